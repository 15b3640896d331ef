/**
 * Images carry no SSH host key (the apt layer deletes what openssh-server's
 * postinst made; the `no-host-keys` check proves it in every build), so each
 * pod must make its own at start. Two pods of one image get different keys.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { fakeService, runStart, sandbox, writeExec } from './helpers/start.ts';

const keygen = await execa('ssh-keygen', ['-?'], { reject: false }).catch(() => ({ exitCode: undefined }));
const have = keygen.exitCode !== undefined;
const stest = have ? test : (title: string) => test.skip(`${title} (skipped: no ssh-keygen on PATH: apt-get install openssh-client)`, () => {});
const PUBKEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKilnTestKeyOnlyForTests kiln@test';

async function podKeys(t: Parameters<typeof sandbox>[0] & { log(...v: unknown[]): void }): Promise<{ files: string[]; ed25519: string; config: string }> {
  const s = await sandbox(t);
  await writeExec(join(s.bin, 'sshd'), fakeService('sshd', '[[ $1 == -t ]] && exit 0'));
  const run = runStart(t, s, { SSHD_BIN: join(s.bin, 'sshd'), PUBLIC_KEY: PUBKEY });
  await run.waitLog(/SSH: key-only sshd on port 22/, 30_000);
  const dir = s.env.SSH_HOST_KEY_DIR!;
  return {
    files: (await readdir(dir)).sort(),
    ed25519: await readFile(join(dir, 'ssh_host_ed25519_key'), 'utf8'),
    config: await readFile(join(s.run, 'sshd_config'), 'utf8'),
  };
}

stest('a pod whose image has no host keys makes its own at start, different from any other pod', async (t) => {
  const a = await podKeys(t);
  const b = await podKeys(t);
  t.deepEqual(a.files, ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub', 'ssh_host_rsa_key', 'ssh_host_rsa_key.pub']);
  t.regex(a.ed25519, /BEGIN OPENSSH PRIVATE KEY/);
  t.regex(a.config, /^HostKey .*ssh_host_ed25519_key$/m);
  t.not(a.ed25519, b.ed25519, 'every pod has its own host key');
});
