// Live decisions: a Server-Sent Events stream of every decision the service takes (codes,
// names, ids; never tokens or arguments), filtered here by code, subject and tool.
import { Component } from '../vendor/preact.js';
import { html } from '../html.js';
import { shortId, when } from '../api.js';

export interface DecisionRow {
  seq: number;
  time: number;
  allowed: boolean;
  code: string;
  subject: string;
  tool: string;
  operation: string;
  resource: string;
  chainIds: string[];
}

interface State {
  rows: DecisionRow[];
  code: string;
  subject: string;
  tool: string;
  connected: boolean;
}

const KEEP = 500;

export class Live extends Component<object, State> {
  override state: State = { rows: [], code: '', subject: '', tool: '', connected: false };
  #source: EventSource | undefined;
  #seen = -1;

  override componentDidMount(): void {
    const s = new EventSource('api/decisions/stream');
    this.#source = s;
    s.onopen = () => this.setState({ connected: true });
    s.onerror = () => this.setState({ connected: false });
    s.addEventListener('decision', (e: MessageEvent<string>) => {
      let row: DecisionRow;
      try {
        row = JSON.parse(e.data) as DecisionRow;
      } catch {
        return;
      }
      // A reconnect replays the backlog: keep each decision once.
      if (row.seq <= this.#seen) return;
      this.#seen = row.seq;
      this.setState((st) => ({ rows: [row, ...st.rows].slice(0, KEEP) }));
    });
  }

  override componentWillUnmount(): void {
    this.#source?.close();
  }

  #filter = (field: 'code' | 'subject' | 'tool') => (e: Event) => this.setState({ [field]: (e.target as HTMLInputElement).value } as Pick<State, typeof field>);

  render() {
    const { rows, code, subject, tool, connected } = this.state;
    const has = (v: string, f: string) => f === '' || v.toLowerCase().includes(f.toLowerCase());
    const shown = rows.filter((r) => has(r.code, code) && has(r.subject, subject) && has(r.tool, tool));
    return html`<section class="page" id="page-live">
      <h2>Live decisions <span class=${connected ? 'badge ok' : 'badge bad'} id="live-status">${connected ? 'live' : 'disconnected'}</span></h2>
      <div class="filters">
        <label>code <input id="filter-code" value=${code} onInput=${this.#filter('code')} placeholder="ERR_REVOKED" /></label>
        <label>subject <input id="filter-subject" value=${subject} onInput=${this.#filter('subject')} /></label>
        <label>tool <input id="filter-tool" value=${tool} onInput=${this.#filter('tool')} /></label>
        <span class="muted">${shown.length} of ${rows.length} shown</span>
      </div>
      <table id="decisions">
        <thead>
          <tr>
            <th>time</th>
            <th>decision</th>
            <th>code</th>
            <th>subject</th>
            <th>tool</th>
            <th>resource</th>
            <th>chain</th>
          </tr>
        </thead>
        <tbody>
          ${shown.map(
            (r) =>
              html`<tr key=${r.seq} class=${r.allowed ? 'allow' : 'deny'} data-seq=${r.seq}>
                <td class="mono nowrap">${when(r.time)}</td>
                <td>${r.allowed ? 'allow' : 'deny'}</td>
                <td class="mono nowrap code">${r.code}</td>
                <td class="subject">${r.subject}</td>
                <td>${r.tool}</td>
                <td class="mono">${r.resource}</td>
                <td class="mono" title=${r.chainIds.join(' > ')}>${r.chainIds.map(shortId).join(' > ')}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
  }
}
