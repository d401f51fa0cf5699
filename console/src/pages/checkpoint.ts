// The audit log's last signed checkpoint, re-verified by the service under the checkpoint key.
import { Component } from '../vendor/preact.js';
import { html } from '../html.js';
import { get } from '../api.js';

interface Checkpoint {
  configured: boolean;
  signing?: boolean;
  headSeq?: number;
  failures?: number;
  last?: { seq: number; at: number; time: string; kid: string | null; verified: boolean; unsigned: number } | null;
}

export class CheckpointPage extends Component<object, { data: Checkpoint | null; error: string }> {
  override state = { data: null as Checkpoint | null, error: '' };

  override componentDidMount(): void {
    get<Checkpoint>('checkpoint').then(
      (data) => this.setState({ data }),
      (e: unknown) => this.setState({ error: (e as Error).message }),
    );
  }

  render() {
    const { data, error } = this.state;
    const body = error
      ? html`<p class="error">${error}</p>`
      : !data
        ? null
        : !data.configured
          ? html`<p class="muted">No audit log is configured (server.audit).</p>`
          : html`<dl id="checkpoint">
              <dt>audit head</dt>
              <dd>line ${data.headSeq}</dd>
              <dt>signing</dt>
              <dd>${data.signing ? 'on (server.audit.checkpoint)' : 'off: truncation of the log cannot be detected'}</dd>
              ${
                data.last
                  ? html`<dt>last checkpoint</dt>
                      <dd>line ${data.last.seq}, signs the head at line ${data.last.at}, ${data.last.time}</dd>
                      <dt>signature</dt>
                      <dd class=${data.last.verified ? 'ok' : 'bad'} id="checkpoint-verified">
                        ${data.last.verified ? 'verified' : 'NOT verified'} (key ${data.last.kid ?? '?'})
                      </dd>
                      <dt>lines after it</dt>
                      <dd>${data.last.unsigned} not yet signed</dd>`
                  : html`<dt>last checkpoint</dt>
                      <dd>none yet</dd>`
              }
              <dt>failures</dt>
              <dd>${data.failures}</dd>
            </dl>`;
    return html`<section class="page" id="page-checkpoint">
      <h2>Audit checkpoint</h2>
      ${body}
    </section>`;
  }
}
