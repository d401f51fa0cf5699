// Agents and enrolments of the authority service (when the service runs one).
import { Component } from '../vendor/preact.js';
import { html } from '../html.js';
import { get, unix } from '../api.js';

interface Agents {
  configured: boolean;
  audience?: string;
  total?: number;
  agents?: { subject: string; profile: string; status: string; via: string; enrolledAt: number; disenrolledAt: number | null }[];
}

export class AgentsPage extends Component<object, { data: Agents | null; error: string }> {
  override state = { data: null as Agents | null, error: '' };

  override componentDidMount(): void {
    get<Agents>('agents').then(
      (data) => this.setState({ data }),
      (e: unknown) => this.setState({ error: (e as Error).message }),
    );
  }

  render() {
    const { data, error } = this.state;
    if (error)
      return html`<section class="page" id="page-agents">
        <h2>Agents</h2>
        <p class="error">${error}</p>
      </section>`;
    if (data && !data.configured)
      return html`<section class="page" id="page-agents">
        <h2>Agents</h2>
        <p class="muted">No authority runs in this service (server.authority).</p>
      </section>`;
    return html`<section class="page" id="page-agents">
      <h2>Agents <span class="muted">${data?.total ?? 0} enrolled with ${data?.audience ?? ''}</span></h2>
      <table id="agents">
        <thead>
          <tr>
            <th>subject</th>
            <th>profile</th>
            <th>status</th>
            <th>enrolled by</th>
            <th>enrolled</th>
            <th>disenrolled</th>
          </tr>
        </thead>
        <tbody>
          ${(data?.agents ?? []).map(
            (a) =>
              html`<tr key=${a.subject} class=${a.status === 'active' ? '' : 'deny'}>
                <td class="subject">${a.subject}</td>
                <td>${a.profile}</td>
                <td>${a.status}</td>
                <td>${a.via}</td>
                <td>${unix(a.enrolledAt)}</td>
                <td>${unix(a.disenrolledAt)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
  }
}
