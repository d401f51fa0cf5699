/** `capframe enroll --config FILE --profile NAME`: a one-time enrolment code for the authority (src/server/authority.ts). */
import { resolve } from 'node:path';
import type { Io } from '../command.ts';
import { durationFlag, parseFlags, UsageError } from '../args.ts';
import { loadServerConfig } from '../../config/server.ts';
import { codeDigest, EnrolmentStore, newEnrolmentCode } from '../../authority/enrolments.ts';
import { subjectMatches } from '../../config/authority.ts';

export async function run(argv: string[], io: Io): Promise<number> {
  const f = parseFlags(argv, { config: { type: 'string' }, profile: { type: 'string' }, subject: { type: 'string' }, ttl: { type: 'string' } });
  const file = resolve(io.cwd, f.required('config'));
  const name = f.required('profile');
  const subject = f.string('subject');
  const ttlText = f.string('ttl');
  const cfg = loadServerConfig(file, io.env);
  const a = cfg.authority;
  if (!a) throw new UsageError(`${file}: no server.authority section`);
  const profile = Object.prototype.hasOwnProperty.call(a.profiles, name) ? a.profiles[name] : undefined;
  if (!profile) throw new UsageError(`no profile ${JSON.stringify(name)} (the config has ${Object.keys(a.profiles).join(', ')})`);
  if (subject !== undefined && !subjectMatches(profile.subject, subject))
    throw new UsageError(`subject ${subject} does not match the profile's pattern ${profile.subject}`);
  const ttl = ttlText !== undefined ? durationFlag('ttl', ttlText) : a.codeTtl;
  const now = Math.floor(Date.now() / 1000);
  const code = newEnrolmentCode();
  const store = new EnrolmentStore({ path: a.db });
  try {
    store.addCode(codeDigest(code), name, subject, now, now + ttl);
  } finally {
    store.close();
  }
  io.stdout(`${code}\n`);
  io.stderr(
    `capframe enroll: one-time code for profile ${name}${subject ? ` (subject ${subject})` : ''}, expires ${new Date((now + ttl) * 1000).toISOString()}\n`,
  );
  return 0;
}
