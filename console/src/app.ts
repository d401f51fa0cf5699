// The capframe console: one page, hash routes, class components (preact + htm, no build step
// beyond tsc). Loaded by index.html as a module from this origin only (CSP script-src 'self').
import { Component, render } from './vendor/preact.js';
import { html } from './html.js';
import { ApiError, get, post, setCsrf, type SessionInfo } from './api.js';
import { Live } from './pages/live.js';
import { Trees } from './pages/trees.js';
import { Revocations } from './pages/revocations.js';
import { Inspector } from './pages/inspector.js';
import { AgentsPage } from './pages/agents.js';
import { CheckpointPage } from './pages/checkpoint.js';

const PAGES = [
  ['live', 'Live decisions'],
  ['trees', 'Delegation trees'],
  ['revocations', 'Revocations'],
  ['inspector', 'Token inspector'],
  ['agents', 'Agents'],
  ['checkpoint', 'Audit checkpoint'],
] as const;
type Page = (typeof PAGES)[number][0];

interface State {
  session: SessionInfo | null;
  page: Page;
  error: string;
  busy: boolean;
}

function pageOf(hash: string): Page {
  const p = hash.replace(/^#\/?/, '');
  return (PAGES.find(([k]) => k === p)?.[0] ?? 'live') as Page;
}

class App extends Component<object, State> {
  override state: State = { session: null, page: pageOf(location.hash), error: '', busy: false };
  #onHash = () => this.setState({ page: pageOf(location.hash) });

  override componentDidMount(): void {
    window.addEventListener('hashchange', this.#onHash);
    void this.refresh();
  }

  override componentWillUnmount(): void {
    window.removeEventListener('hashchange', this.#onHash);
  }

  async refresh(): Promise<void> {
    try {
      const s = await get<SessionInfo>('session');
      setCsrf(s.csrf);
      this.setState({ session: s });
    } catch (e) {
      this.setState({ error: (e as Error).message });
    }
  }

  #login = async (e: Event): Promise<void> => {
    e.preventDefault();
    const field = (e.target as HTMLFormElement).elements.namedItem('secret') as HTMLInputElement;
    const secret = field.value;
    field.value = '';
    this.setState({ busy: true, error: '' });
    try {
      const r = await post<{ csrf: string }>('login', { secret });
      setCsrf(r.csrf);
      await this.refresh();
    } catch (err) {
      this.setState({ error: err instanceof ApiError ? err.message : String(err) });
    } finally {
      this.setState({ busy: false });
    }
  };

  #logout = async (): Promise<void> => {
    try {
      await post('logout', {});
    } catch {
      /* the session is gone either way */
    }
    setCsrf(undefined);
    await this.refresh();
  };

  loginForm() {
    const { session, error, busy } = this.state;
    return html`<form id="login-form" class="login" onSubmit=${this.#login}>
      <h2>Log in</h2>
      <p class="muted">
        The admin secret of this service (server.adminSecretEnv or adminSecretFile). It is exchanged for a session cookie and not kept by the page.
      </p>
      ${session && !session.loginPossible ? html`<p class="error">This service has no admin secret configured: nobody can log in.</p>` : null}
      <input type="password" name="secret" id="login-secret" autocomplete="current-password" placeholder="admin secret" required />
      <button type="submit" id="login-submit" disabled=${busy}>log in</button>
      ${error ? html`<p class="error" id="login-error">${error}</p>` : null}
    </form>`;
  }

  page() {
    const s = this.state.session!;
    const admin = s.loggedIn;
    switch (this.state.page) {
      case 'live':
        return html`<${Live} />`;
      case 'trees':
        return html`<${Trees} canRevoke=${admin && s.features.revocation} />`;
      case 'revocations':
        return html`<${Revocations} canRevoke=${admin} />`;
      case 'inspector':
        return html`<${Inspector} canUse=${admin} />`;
      case 'agents':
        return html`<${AgentsPage} />`;
      case 'checkpoint':
        return html`<${CheckpointPage} />`;
    }
  }

  render() {
    const { session, page, error } = this.state;
    const mayRead = session !== null && (session.loggedIn || session.views === 'public');
    return html`<div class="app">
      <header>
        <h1>capframe console</h1>
        ${
          mayRead
            ? html`<nav>${PAGES.map(([k, label]) => html`<a href=${`#/${k}`} id=${`nav-${k}`} class=${k === page ? 'active' : ''}>${label}</a>`)}</nav>`
            : null
        }
        ${session?.loggedIn ? html`<button id="logout" onClick=${() => void this.#logout()}>log out</button>` : null}
      </header>
      <main>
        ${session === null ? html`<p class="muted">${error || 'loading…'}</p>` : null} ${session !== null && !session.loggedIn ? this.loginForm() : null}
        ${mayRead ? this.page() : null}
      </main>
    </div>`;
  }
}

render(html`<${App} />`, document.getElementById('app')!);
