// Delegation trees: chains seen in decisions and roots issued by the authority.
import { Component } from '../vendor/preact.js';
import { html } from '../html.js';
import { ApiError, get, post, shortId, unix, when } from '../api.js';

export interface TreeNode {
  id: string;
  subject: string;
  grants: string[];
  expiresAt: number | null;
  revoked: boolean;
  allowed: number;
  denied: number;
  lastCode: string;
  lastSeen: number;
  issuedBy: 'authority' | null;
  children: TreeNode[];
}

interface Props {
  canRevoke: boolean;
}
interface State {
  trees: TreeNode[];
  nodes: number;
  error: string;
  note: string;
}

export class Trees extends Component<Props, State> {
  override state: State = { trees: [], nodes: 0, error: '', note: '' };
  #timer: number | undefined;

  override componentDidMount(): void {
    void this.load();
    this.#timer = window.setInterval(() => void this.load(), 2000);
  }

  override componentWillUnmount(): void {
    window.clearInterval(this.#timer);
  }

  async load(): Promise<void> {
    try {
      const r = await get<{ trees: TreeNode[]; nodes: number }>('trees');
      this.setState({ trees: r.trees, nodes: r.nodes, error: '' });
    } catch (e) {
      this.setState({ error: (e as Error).message });
    }
  }

  async revoke(id: string): Promise<void> {
    try {
      await post('revoke', { id, reason: 'revoked from the console' });
      this.setState({ note: `revoked ${shortId(id)}` });
      await this.load();
    } catch (e) {
      this.setState({ error: e instanceof ApiError ? `${e.code}: ${e.message}` : String(e) });
    }
  }

  node(n: TreeNode): unknown {
    return html`<li key=${n.id} class="node" data-id=${n.id}>
      <div class=${n.revoked ? 'card revoked' : 'card'}>
        <span class="subject">${n.subject || '(subject not seen)'}</span>
        <span class="mono muted" title=${n.id}>${shortId(n.id)}</span>
        ${n.revoked ? html`<span class="badge bad">revoked</span>` : null} ${n.issuedBy ? html`<span class="badge">issued by the authority</span>` : null}
        <div class="muted">
          expires ${unix(n.expiresAt)} · ${n.allowed} allowed · ${n.denied} denied${n.lastCode ? ` · last ${n.lastCode}` : ''} · seen ${when(n.lastSeen)}
        </div>
        ${
          n.grants.length > 0
            ? html`<ul class="grants">
                ${n.grants.map((g) => html`<li class="mono">${g}</li>`)}
              </ul>`
            : null
        }
        ${this.props.canRevoke && !n.revoked ? html`<button class="danger revoke-node" onClick=${() => void this.revoke(n.id)}>revoke</button>` : null}
      </div>
      ${
        n.children.length > 0
          ? html`<ul class="tree">
              ${n.children.map((c) => this.node(c))}
            </ul>`
          : null
      }
    </li>`;
  }

  render() {
    const { trees, nodes, error, note } = this.state;
    return html`<section class="page" id="page-trees">
      <h2>Delegation trees <span class="muted">${nodes} blocks</span></h2>
      ${error ? html`<p class="error">${error}</p>` : null} ${note ? html`<p class="note">${note}</p>` : null}
      ${
        trees.length === 0
          ? html`<p class="muted">No chains seen yet.</p>`
          : html`<ul class="tree root" id="trees">
              ${trees.map((t) => this.node(t))}
            </ul>`
      }
    </section>`;
  }
}
