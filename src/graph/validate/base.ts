/** The shared base (base/common.ts): apt sets, pip tools, ComfyUI/Manager pins, services. */
import semver from 'semver';
import type { Located } from '../../dsl/load.ts';
import { BASE_SHAPE } from '../../dsl/schema.ts';
import type { BaseDefinition } from '../../dsl/types.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { installs } from '../stages.ts';
import { checkPinned } from './gpu.ts';
import { reporter, shown, type Report } from './report.ts';
import { checkShape } from './strict.ts';
import { checkExact } from './versions.ts';

const SHA256 = /^[0-9a-f]{64}$/;
const DEBIAN_PACKAGE = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/;

/** Each entry a Debian package name (optionally =version), listed once. */
export function checkAptList(report: Report, field: string, list: readonly unknown[]): void {
  const seen = new Set<unknown>();
  for (const [i, p] of list.entries()) {
    if (typeof p !== 'string' || !DEBIAN_PACKAGE.test(p)) report(`${field}[${i}]`, `${shown(p)} is not a Debian package name`, 'use a package name such as "python3-venv" (optionally =version)');
    if (seen.has(p)) report(`${field}[${i}]`, `${shown(p)} is listed twice`, 'list each package once');
    seen.add(p);
  }
}

export function checkBase(b: Located<BaseDefinition>, out: DefinitionProblem[]): void {
  const report = reporter(out, b.file, 'base');
  const d = b.def;
  checkShape(d, BASE_SHAPE, report, { path: '', owner: 'defineBase', stamped: ['kind'] });
  for (const field of ['toolchainApt', 'apt'] as const) {
    const list = d[field] as unknown;
    if (list === undefined) continue; // reported as missing by the strict check
    if (!Array.isArray(list) || (field === 'toolchainApt' && list.length === 0)) {
      report(field, 'no apt packages', field === 'toolchainApt' ? 'list what the Python/compile chain needs (git, python3-venv, python3-dev, ...)' : 'give a list (it may be empty)');
      continue;
    }
    checkAptList(report, field, list);
  }
  for (const [n, v] of Object.entries(d.pipTools ?? {})) checkExact(report, `pipTools.${n}`, v, `${n}: '25.1.1'`, { pip: true });
  checkPinned(report, 'comfyui', d.comfyui);
  checkPinned(report, 'manager', d.manager);
  const fb = d.filebrowser;
  if (fb?.version !== undefined && !(typeof fb.version === 'string' && fb.version.startsWith('v') && semver.valid(fb.version))) {
    report('filebrowser.version', `${shown(fb.version)} is not a release tag`, "use the tag of a FileBrowser release, e.g. version: 'v2.59.0'");
  }
  if (fb?.sha256 !== undefined && !(typeof fb.sha256 === 'string' && SHA256.test(fb.sha256))) {
    report('filebrowser.sha256', `${shown(fb.sha256)} is not 64 lowercase hex digits`, 'sha256sum the linux-amd64-filebrowser.tar.gz of that release');
  }
  if (Array.isArray(d.apt) && Array.isArray(d.toolchainApt) && !installs([...d.toolchainApt, ...d.apt], 'curl')) {
    report('apt', 'has no curl, which installs FileBrowser', "add 'curl' to apt");
  }
  checkExact(report, 'jupyterlab', d.jupyterlab, "jupyterlab: '4.4.9'", { pip: true });
}
