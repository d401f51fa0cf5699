// Token inspector: the service decodes a pasted token (not verified) and answers with its
// blocks; the page shows decoded fields only, and the field is cleared once sent.
import { Component } from '../vendor/preact.js';
import { html } from '../html.js';
import { ApiError, post } from '../api.js';

interface Block {
  kind: string;
  id: string;
  subject: string;
  grants: { resource: string; permissions: string[]; constraints?: unknown; rate?: unknown; budget?: unknown }[];
  inheritsGrants: boolean;
  issuedAt?: string;
  notBefore?: string;
  expiresAt: string;
  maxDepth: number;
  bytes: number;
}
interface Decoded {
  kid: string;
  bytes: number;
  expiresAt: string;
  blocks: Block[];
}
interface State {
  decoded: Decoded | null;
  error: string;
}

// Lines built as strings: htm drops whitespace around line breaks inside templates.
function blockLine(b: Block): string {
  return [
    b.issuedAt ? `issued ${b.issuedAt}` : '',
    b.notBefore ? `not before ${b.notBefore}` : '',
    `expires ${b.expiresAt}`,
    `max depth ${b.maxDepth}`,
    `${b.bytes} bytes`,
    b.inheritsGrants ? 'inherits grants' : '',
  ]
    .filter((x) => x !== '')
    .join(' · ');
}

function grantLine(g: Block['grants'][number]): string {
  return [
    `${g.resource} [${g.permissions.join(', ')}]`,
    g.constraints ? `constraints ${JSON.stringify(g.constraints)}` : '',
    g.rate ? `rate ${JSON.stringify(g.rate)}` : '',
    g.budget ? `budget ${JSON.stringify(g.budget)}` : '',
  ]
    .filter((x) => x !== '')
    .join(' ');
}

export class Inspector extends Component<{ canUse: boolean }, State> {
  override state: State = { decoded: null, error: '' };

  #submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const field = (e.target as HTMLFormElement).elements.namedItem('token') as HTMLTextAreaElement;
    const token = field.value;
    field.value = '';
    try {
      this.setState({ decoded: await post<Decoded>('inspect', { token }), error: '' });
    } catch (err) {
      this.setState({ decoded: null, error: err instanceof ApiError ? `${err.code}: ${err.message}` : String(err) });
    }
  };

  render() {
    const { decoded, error } = this.state;
    if (!this.props.canUse)
      return html`<section class="page" id="page-inspector">
        <h2>Token inspector</h2>
        <p class="muted">Log in to decode tokens.</p>
      </section>`;
    return html`<section class="page" id="page-inspector">
      <h2>Token inspector</h2>
      <p class="muted">Decoded by the service, not verified, not stored or logged. The field is cleared when sent.</p>
      <form id="inspect-form" onSubmit=${this.#submit}>
        <textarea name="token" id="inspect-token" rows="4" autocomplete="off" spellcheck=${false} placeholder="cft1.…"></textarea>
        <button type="submit">decode</button>
      </form>
      ${error ? html`<p class="error">${error}</p>` : null}
      ${
        decoded
          ? html`<div id="inspect-result">
              <p>key id <span class="mono">${decoded.kid}</span> · ${decoded.bytes} bytes · expires ${decoded.expiresAt} · <strong>not verified</strong></p>
              <ol class="blocks">
                ${decoded.blocks.map(
                  (b) =>
                    html`<li class="card">
                      <div><strong>${b.kind}</strong> <span class="subject">${b.subject}</span> <span class="mono muted">${b.id}</span></div>
                      <div class="muted">${blockLine(b)}</div>
                      <ul class="grants">
                        ${b.grants.map((g) => html`<li class="mono">${grantLine(g)}</li>`)}
                      </ul>
                    </li>`,
                )}
              </ol>
            </div>`
          : null
      }
    </section>`;
  }
}
