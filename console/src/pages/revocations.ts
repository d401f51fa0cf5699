// Revocations: what the registry holds, and a revoke action (chain id, subject, key before a time).
import { Component } from '../vendor/preact.js';
import { html } from '../html.js';
import { ApiError, get, post, unix } from '../api.js';

interface List {
  configured: boolean;
  version?: number;
  totals?: { ids: number; subjects: number; cutoffs: number };
  ids?: { id: string; seq: number; expiresAt: number | null }[];
  subjects?: string[];
  cutoffs?: { kid: string; before: number }[];
}
interface State {
  list: List | null;
  kind: 'id' | 'subject' | 'kid';
  value: string;
  before: string;
  reason: string;
  error: string;
  note: string;
}

export class Revocations extends Component<{ canRevoke: boolean }, State> {
  override state: State = { list: null, kind: 'id', value: '', before: '', reason: '', error: '', note: '' };

  override componentDidMount(): void {
    void this.load();
  }

  async load(): Promise<void> {
    try {
      this.setState({ list: await get<List>('revocations') });
    } catch (e) {
      this.setState({ error: (e as Error).message });
    }
  }

  #submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const { kind, value, before, reason } = this.state;
    const v = value.trim();
    const body: Record<string, unknown> =
      kind === 'id' ? { id: v } : kind === 'subject' ? { subject: v } : { kid: v, before: Math.floor(new Date(before).getTime() / 1000) };
    if (reason.trim() !== '') body.reason = reason.trim();
    try {
      const r = await post<{ changed: boolean; version: number; target: string }>('revoke', body);
      this.setState({ note: `${r.changed ? 'revoked' : 'already revoked'}: ${r.target} (version ${r.version})`, error: '', value: '' });
      await this.load();
    } catch (err) {
      this.setState({ error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err), note: '' });
    }
  };

  #set = (field: 'value' | 'before' | 'reason' | 'kind') => (e: Event) =>
    this.setState({ [field]: (e.target as HTMLInputElement).value } as unknown as Pick<State, typeof field>);

  render() {
    const { list, kind, value, before, reason, error, note } = this.state;
    if (list && !list.configured)
      return html`<section class="page" id="page-revocations">
        <h2>Revocations</h2>
        <p class="muted">Revocation is not configured on this service (server.revocation).</p>
      </section>`;
    return html`<section class="page" id="page-revocations">
      <h2>Revocations ${list?.version !== undefined ? html`<span class="muted">version ${list.version}</span>` : null}</h2>
      ${error ? html`<p class="error" id="revoke-error">${error}</p>` : null} ${note ? html`<p class="note" id="revoke-note">${note}</p>` : null}
      ${
        this.props.canRevoke
          ? html`<form class="revoke" id="revoke-form" onSubmit=${this.#submit}>
              <select id="revoke-kind" value=${kind} onChange=${this.#set('kind')}>
                <option value="id">chain block id</option>
                <option value="subject">subject</option>
                <option value="kid">authority key before a time</option>
              </select>
              <input
                id="revoke-value"
                value=${value}
                onInput=${this.#set('value')}
                placeholder=${kind === 'id' ? '32 hex digits' : kind === 'subject' ? 'agent:name' : 'key id (11 characters)'}
                required
              />
              ${kind === 'kid' ? html`<input id="revoke-before" type="datetime-local" value=${before} onInput=${this.#set('before')} required />` : null}
              <input id="revoke-reason" value=${reason} onInput=${this.#set('reason')} placeholder="reason (optional)" />
              <button class="danger" type="submit">revoke</button>
            </form>`
          : html`<p class="muted">Log in to revoke.</p>`
      }
      <h3>Subjects (${list?.totals?.subjects ?? 0})</h3>
      <ul id="revoked-subjects">
        ${(list?.subjects ?? []).map((s) => html`<li>${s}</li>`)}
      </ul>
      <h3>Key cut-offs (${list?.totals?.cutoffs ?? 0})</h3>
      <ul>
        ${(list?.cutoffs ?? []).map((c) => html`<li class="mono">${c.kid} before ${unix(c.before)}</li>`)}
      </ul>
      <h3>Block ids (${list?.totals?.ids ?? 0}, newest first)</h3>
      <table id="revoked-ids">
        <thead>
          <tr>
            <th>id</th>
            <th>seq</th>
            <th>chain expires</th>
          </tr>
        </thead>
        <tbody>
          ${(list?.ids ?? []).map(
            (r) =>
              html`<tr key=${r.id}>
                <td class="mono">${r.id}</td>
                <td>${r.seq}</td>
                <td>${unix(r.expiresAt)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
  }
}
