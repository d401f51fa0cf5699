/** The support desk's ticket store: a real SQLite file (better-sqlite3). */
import Database from 'better-sqlite3';

export interface Ticket {
  id: number;
  customer: string;
  email: string;
  subject: string;
  body: string;
  status: string;
  notes: string;
}

export interface Mail {
  to: string;
  subject: string;
  body: string;
}

export class TicketStore {
  readonly db: Database.Database;
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS tickets (
        id INTEGER PRIMARY KEY, customer TEXT NOT NULL, email TEXT NOT NULL,
        subject TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL, notes TEXT NOT NULL DEFAULT ''
      );
      CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "to" TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL);
    `);
  }

  seed(tickets: Omit<Ticket, 'notes'>[]): void {
    const ins = this.db.prepare('INSERT INTO tickets (id, customer, email, subject, body, status) VALUES (@id, @customer, @email, @subject, @body, @status)');
    this.db.transaction(() => {
      for (const t of tickets) ins.run(t);
    })();
  }

  list(status: string): Pick<Ticket, 'id' | 'subject' | 'customer'>[] {
    return this.db.prepare('SELECT id, subject, customer FROM tickets WHERE status = ? ORDER BY id').all(status) as never;
  }

  get(id: number): Ticket | undefined {
    return this.db.prepare('SELECT * FROM tickets WHERE id = ?').get(id) as Ticket | undefined;
  }

  update(id: number, status: string, note: string): boolean {
    const r = this.db.prepare('UPDATE tickets SET status = ?, notes = notes || ? WHERE id = ?').run(status, note ? `${note}\n` : '', id);
    return r.changes === 1;
  }

  delete(id: number): boolean {
    return this.db.prepare('DELETE FROM tickets WHERE id = ?').run(id).changes === 1;
  }

  send(mail: Mail): void {
    this.db.prepare('INSERT INTO outbox ("to", subject, body) VALUES (@to, @subject, @body)').run(mail);
  }

  all(): Ticket[] {
    return this.db.prepare('SELECT * FROM tickets ORDER BY id').all() as Ticket[];
  }

  outbox(): Mail[] {
    return this.db.prepare('SELECT "to", subject, body FROM outbox ORDER BY id').all() as Mail[];
  }

  close(): void {
    this.db.close();
  }
}
