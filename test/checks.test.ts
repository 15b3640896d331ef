/**
 * scripts/kiln_check against a small fake image on this machine: a real venv
 * (real pip, so `pip check` prints what pip prints), stand-in torch and ComfyUI
 * that print what upstream prints, real ELF files and, when nvcc is here, real
 * GPU objects. Each check is first seen failing on the defect it guards, then
 * passing without it. The engine tests run the same checks in real builds.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { repoRoot } from './helpers/fixtures.ts';

const runner = join(repoRoot, 'scripts/kiln_check');
const nvcc = (await execa('nvcc', ['--version'], { reject: false, timeout: 20_000 }).catch(() => ({ exitCode: 1 }))).exitCode === 0;

/** One fake image for the whole file: making a venv with pip takes a few seconds. */
const root = mkdtempSync(join(tmpdir(), 'kiln-checks-'));
const venv = join(root, 'venv');
const made = await execa('python3', ['-m', 'venv', venv], { reject: false, timeout: 120_000 });
const py = join(venv, 'bin/python');
const site = made.exitCode === 0 ? (await execa(py, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])).stdout.trim() : '';
// Every await above: ava wants the tests declared synchronously from here on.
test.after.always(() => rmSync(root, { recursive: true, force: true }));

/** A distribution in the venv: dist-info with real metadata, and a module. */
function dist(name: string, version: string, requires: string[] = [], module = name.replace(/-/g, '_'), code = ''): void {
  const info = join(site, `${name.replace(/-/g, '_')}-${version}.dist-info`);
  mkdirSync(info, { recursive: true });
  writeFileSync(join(info, 'METADATA'), [`Metadata-Version: 2.1`, `Name: ${name}`, `Version: ${version}`, ...requires.map((r) => `Requires-Dist: ${r}`), ''].join('\n'));
  writeFileSync(join(info, 'RECORD'), `${module}/__init__.py,,\n`);
  mkdirSync(join(site, module), { recursive: true });
  writeFileSync(join(site, module, '__init__.py'), `__version__ = ${JSON.stringify(version)}\n${code}`);
}
const removeDist = (name: string, version: string, module = name.replace(/-/g, '_')) => {
  rmSync(join(site, `${name.replace(/-/g, '_')}-${version}.dist-info`), { recursive: true, force: true });
  rmSync(join(site, module), { recursive: true, force: true });
};

/** torch as the cu128 wheels describe themselves (torch._C._cuda_getArchFlags needs no GPU). */
function torch(archs: string, cuda = '12.8'): void {
  dist('torch', '2.8.0+cu128', [], 'torch', [
    'class version: cuda = ' + JSON.stringify(cuda),
    'class _C:',
    `    @staticmethod`,
    `    def _cuda_getArchFlags(): return ${JSON.stringify(archs)}`,
    'class cuda:',
    '    @staticmethod',
    '    def is_available(): return False',
    '',
  ].join('\n'));
}

/** ComfyUI's main.py as far as the check reads it: the import list nodes.py prints. */
const comfy = join(root, 'ComfyUI');
function comfyui(nodes: Record<string, string | null>): void {
  mkdirSync(comfy, { recursive: true });
  const lines = Object.entries(nodes).flatMap(([name, error]) =>
    error ? [`Traceback (most recent call last):`, `${error}`, `Cannot import ${comfy}/custom_nodes/${name} module for custom nodes: ${error}`] : [],
  );
  const list = Object.entries(nodes).map(([name, error]) => `   0.1 seconds${error ? ' (IMPORT FAILED)' : ''}: ${comfy}/custom_nodes/${name}`);
  writeFileSync(
    join(comfy, 'main.py'),
    `import sys\nassert '--quick-test-for-ci' in sys.argv and '--cpu' in sys.argv\nprint(${JSON.stringify([...lines, '', 'Import times for custom nodes:', ...list, ''].join('\n'))})\n`,
  );
}

interface Entry {
  id: string;
  fix: string;
  [k: string]: unknown;
}
async function check(entries: Entry[]) {
  const spec = join(root, `spec-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(spec, JSON.stringify({ schema: 1, image: 'demo-rtx5090', targets: ['demo-rtx5090'], python: py, comfyui: comfy, checks: entries }));
  const r = await execa('python3', [runner, spec], { reject: false, timeout: 120_000 });
  return { ...r, out: `${r.stdout}\n${r.stderr}` };
}

const ready = made.exitCode === 0;
const vtest = ready ? test.serial : (title: string) => test.skip(`${title} (skipped: python3 -m venv failed: ${made.stderr.split('\n').at(-1)})`, () => {});

vtest('torch: fails without code for a GPU (cu126-like arch list on sm_120), passes with cu128', async (t) => {
  const entry = { id: 'torch', cuda: '12.8', gpus: [{ name: 'rtx4090', sm: 89 }, { name: 'rtx5090', sm: 120 }], fix: 'base/rtx5090.ts: torch.index' };
  torch('sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90');
  const bad = await check([entry]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /kiln check FAILED: demo-rtx5090: torch/);
  t.regex(bad.out, /no code that runs on rtx5090 \(sm_120\)/);
  t.notRegex(bad.out, /runs on rtx4090/, 'sm_86 SASS runs on sm_89');
  t.regex(bad.out, /fix: base\/rtx5090\.ts: torch\.index/);
  torch('sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120');
  const good = await check([entry]);
  t.is(good.exitCode, 0, good.out);
  t.regex(good.out, /rtx4090 via sm_86, rtx5090 via sm_120/);
  torch('sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120', '12.6');
  t.regex((await check([entry])).out, /built for CUDA 12\.6, the image's profile says 12\.8/);
  torch('sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120');
});

vtest('pip-check: a conflict pip reports fails the build; an allowed one passes with its reason', async (t) => {
  const entry = { id: 'pip-check', allow: [] as unknown[], fix: 'templates/demo/template.ts: pin versions that agree' };
  t.is((await check([entry])).exitCode, 0);
  // ComfyUI-GGUF at d2aaeb0 pins numpy<2.0.0 under a node that needs numpy>=2.
  // With the marker opencv's metadata really has: pip check prints it.
  dist('opencv-python-headless', '4.13.0.90', ['numpy>=2; python_version >= "3.9"'], 'cv2');
  dist('numpy', '1.26.4');
  t.teardown(() => {
    removeDist('opencv-python-headless', '4.13.0.90', 'cv2');
    removeDist('numpy', '1.26.4');
  });
  const bad = await check([entry]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /pip-check/);
  t.regex(bad.out, /opencv-python-headless 4\.13\.0\.90 has requirement numpy>=2; python_version >= "3\.9", but you have numpy 1\.26\.4/);
  t.regex(bad.out, /fix: templates\/demo\/template\.ts/);
  const allowed = await check([{ ...entry, allow: [{ package: 'opencv_python_headless', requirement: 'numpy>=2', reason: 'only cv2.resize is used' }] }]);
  t.is(allowed.exitCode, 0, allowed.out);
  t.regex(allowed.out, /1 allowed conflict/);
});

vtest('custom-nodes: a node that fails to import (or is missing) is named with its error; all loaded passes', async (t) => {
  const entry = {
    id: 'custom-nodes',
    nodes: [
      { name: 'ComfyUI-Manager', fix: 'base/common.ts: manager' },
      { name: 'ComfyUI_UltimateSDUpscale', fix: 'templates/sdxl/template.ts: nodes[0]' },
      { name: 'rgthree-comfy', fix: 'templates/sdxl/template.ts: nodes[1]' },
    ],
    fix: 'see each node',
  };
  comfyui({
    'ComfyUI-Manager': null,
    ComfyUI_UltimateSDUpscale: "FileNotFoundError: [Errno 2] No such file or directory: 'repositories/ultimate_sd_upscale/scripts/ultimate-upscale.py'",
  });
  const bad = await check([entry]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /ComfyUI_UltimateSDUpscale: IMPORT FAILED: FileNotFoundError: .*ultimate-upscale\.py/);
  t.regex(bad.out, /fix: templates\/sdxl\/template\.ts: nodes\[0\]/);
  t.regex(bad.out, /rgthree-comfy: not in ComfyUI's list of imported custom nodes/);
  t.notRegex(bad.out, /ComfyUI-Manager:/);
  comfyui({ 'ComfyUI-Manager': null, ComfyUI_UltimateSDUpscale: null, 'rgthree-comfy': null });
  const good = await check([entry]);
  t.is(good.exitCode, 0, good.out);
  t.regex(good.out, /3 custom nodes loaded/);
});

vtest('shared-libs: a dangling versioned link and a missing soname fail; libcuda.so.1 is the driver\'s', async (t) => {
  const dir = join(root, 'llama');
  mkdirSync(dir, { recursive: true });
  // What `cp build/bin/*.so` leaves: the unversioned link, without the file it points at.
  symlinkSync('libllama.so.0', join(dir, 'libllama.so'));
  copyFileSync('/bin/true', join(dir, 'llama-server'));
  chmodSync(join(dir, 'llama-server'), 0o755);
  const entry = { id: 'shared-libs', paths: [`${dir}/*`], ignore: ['libcuda.so.1'], fix: 'copy *.so* keeping links' };
  const bad = await check([entry]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /libllama\.so -> libllama\.so\.0: the link points at nothing/);
  t.regex(bad.out, /fix: copy \*\.so\* keeping links/);
  rmSync(join(dir, 'libllama.so'));
  const good = await check([entry]);
  t.is(good.exitCode, 0, good.out);
  t.regex(good.out, /1 ELF files resolve \(except libcuda\.so\.1/);
});

vtest("shared-libs: each failing library gets its owner's fix (llama.cpp's install or a template package), not another's", async (t) => {
  const llama = join(root, 'llama-fixes');
  const pkg = join(root, 'pkg-fixes');
  mkdirSync(llama, { recursive: true });
  mkdirSync(pkg, { recursive: true });
  copyFileSync('/bin/true', join(llama, 'llama-server'));
  // A library whose needed soname nothing provides: what onnxruntime's CUDA provider is without torch's nvidia-* wheels.
  symlinkSync('libnothing.so.9', join(pkg, 'libprovider.so'));
  const entry = {
    id: 'shared-libs',
    paths: [`${llama}/*`, `${pkg}/*`],
    fixes: { [`${llama}/*`]: 'LLAMA FIX', [`${pkg}/*`]: 'PACKAGE FIX' },
    fix: 'see the fix under each library',
  };
  const bad = await check([entry]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /libprovider\.so -> libnothing\.so\.9: the link points at nothing/);
  t.regex(bad.out, /fix: PACKAGE FIX/);
  t.notRegex(bad.out, /LLAMA FIX/, "llama.cpp's install is fine: its fix is not printed");
});

vtest('no-host-keys: a private host key fails; public keys alone pass', async (t) => {
  const ssh = join(root, 'etc-ssh');
  mkdirSync(ssh, { recursive: true });
  writeFileSync(join(ssh, 'ssh_host_ed25519_key.pub'), 'ssh-ed25519 AAAA');
  const entry = { id: 'no-host-keys', paths: [`${ssh}/ssh_host_*_key`], fix: 'delete /etc/ssh/ssh_host_* where openssh-server is installed' };
  t.is((await check([entry])).exitCode, 0);
  writeFileSync(join(ssh, 'ssh_host_ed25519_key'), 'PRIVATE');
  const bad = await check([entry]);
  t.is(bad.exitCode, 1);
  t.regex(bad.out, /private SSH host keys are baked into the image[\s\S]*ssh_host_ed25519_key/);
});

vtest('imports: a probe that is false (CPU onnxruntime instead of the GPU build) fails naming the package', async (t) => {
  const probe = "'CUDAExecutionProvider' in onnxruntime.get_available_providers()";
  const entry = { id: 'imports', modules: [{ module: 'onnxruntime', dist: 'onnxruntime-gpu', probe, fix: "templates/sdxl/template.ts: pip['onnxruntime-gpu']" }], fix: 'see each module' };
  dist('onnxruntime', '1.22.0', [], 'onnxruntime', "def get_available_providers(): return ['AzureExecutionProvider', 'CPUExecutionProvider']\n");
  const bad = await check([entry]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /onnxruntime \(onnxruntime-gpu\): .*AssertionError/s);
  t.regex(bad.out, /fix: templates\/sdxl\/template\.ts: pip\['onnxruntime-gpu'\]/);
  removeDist('onnxruntime', '1.22.0');
  dist('onnxruntime-gpu', '1.22.0', [], 'onnxruntime', "def get_available_providers(): return ['CUDAExecutionProvider', 'CPUExecutionProvider']\n");
  t.is((await check([entry])).exitCode, 0);
});

const ntest = nvcc && ready ? vtest : (title: string) => test.skip(`${title} (skipped: no nvcc on PATH to compile GPU code)`, () => {});

ntest('kernel-arch: reads real nvcc objects; an object for another arch fails, exactly the GPU\'s passes', async (t) => {
  const dir = join(root, 'kernels');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'k.cu'), '__global__ void k(float *x) { x[threadIdx.x] *= 2.0f; }\n');
  const compile = (out: string, ...gencode: string[]) =>
    execa('nvcc', ['-shared', '-Xcompiler', '-fPIC', ...gencode.flatMap((g) => ['-gencode', g]), '-o', out, 'k.cu'], { cwd: dir, timeout: 180_000 });
  // What a Sage build with TORCH_CUDA_ARCH_LIST="9.0;12.0" would carry, and the right one.
  await compile('wrong.so', 'arch=compute_90,code=sm_90', 'arch=compute_120,code=sm_120');
  await compile('right.so', 'arch=compute_120,code=sm_120', 'arch=compute_120,code=compute_120');
  const entry = (file: string) => ({
    id: 'kernel-arch:sage',
    gpu: 'rtx5090',
    sass: [120],
    objects: [{ label: 'sageattention', paths: [join(dir, file)], builtBy: 'sage-rtx5090', fix: "base/rtx5090.ts: sage.torchCudaArchList must be '12.0'" }],
    fix: 'base/rtx5090.ts: sage.torchCudaArchList',
  });
  const bad = await check([entry('wrong.so')]);
  t.is(bad.exitCode, 1, bad.out);
  t.regex(bad.out, /kernel-arch:sage/);
  t.regex(bad.out, /wrong\.so holds sm_90, sm_120; rtx5090 needs exactly sm_120/);
  t.regex(bad.out, /built by sage-rtx5090; fix: base\/rtx5090\.ts: sage\.torchCudaArchList must be '12\.0'/);
  const good = await check([entry('right.so')]);
  t.is(good.exitCode, 0, good.out);
  t.regex(good.out, /sageattention: 1 object\(s\) with sm_120 only/);
  // An object with no GPU code at all is not mistaken for a right one.
  t.regex((await check([entry('k.cu')])).out, /no object with GPU code/);
});

vtest('the runner: unknown --only ids and an unreadable spec are usage errors (exit 2); --list names every check', async (t) => {
  const r = await execa('python3', [runner, join(root, 'nope.json')], { reject: false });
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /cannot read the spec/);
  const spec = join(root, 'list.json');
  writeFileSync(spec, JSON.stringify({ schema: 1, image: 'x', python: py, checks: [{ id: 'torch', what: 'torch imports', fix: '' }] }));
  t.is((await execa('python3', [runner, spec, '--only', 'nope'], { reject: false })).exitCode, 2);
  t.regex((await execa('python3', [runner, spec, '--list'])).stdout, /^torch: torch imports$/m);
});
