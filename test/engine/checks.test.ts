/**
 * The image checks bite in real builds (issue "Images that prove they work"):
 * for each defect class, a copy of the repo re-introduces the defect (as the
 * generator wrote it before the fix, or as a definition), the build of an image
 * that carries it must FAIL naming the target, the check and the fix, and the
 * same image without it must build. The stub world fails the way upstream does
 * (tools/stub-world/upstream.json), so these are the checks Kiln images run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadProject } from '../../src/dsl/load.ts';
import { synth } from '../../src/emit/synth.ts';
import { resolveGraph } from '../../src/graph/resolve.ts';
import { writeGenerated } from '../../src/io/output.ts';
import { Testing } from '../../src/testing.ts';
import { bake, engineAvailable, engineLock, engineTest, formatShimCalls, prepareStubWorld, readFileFromImage, readShimLog, REGISTRY, REPO_ROOT } from './harness.ts';

const engine = await engineAvailable();
const etest = engineTest(test, engine);

function build(root: string, target: string) {
  return bake({
    cwd: root,
    files: ['bake/docker-bake.hcl'],
    targets: [target],
    set: ['*.cache-to=', '*.cache-from='],
    vars: { REGISTRY: `${REGISTRY}/kiln-checks`, TAG: 'checks' },
    timeoutMs: 8 * 60_000,
  });
}

/** Replace `from` by `to` in a repo file; the fixture must still contain `from`. */
function edit(root: string, file: string, from: string | RegExp, to: string): void {
  const path = join(root, file);
  const text = readFileSync(path, 'utf8');
  const next = text.replace(from, to);
  if (next === text) throw new Error(`fixture drift: ${file} no longer contains ${String(from)}`);
  writeFileSync(path, next);
}

async function regenerate(root: string): Promise<void> {
  writeGenerated(root, synth(resolveGraph(await loadProject(root))));
}

interface Mutation {
  readonly defect: string;
  readonly target: string;
  readonly check: string;
  /** Re-introduce the defect in a copy of the repo. */
  apply(root: string): Promise<void> | void;
  /** What the failure says besides target and check. */
  readonly says: readonly RegExp[];
}

const MUTATIONS: readonly Mutation[] = [
  {
    defect: "llama.cpp's versioned libraries copied as *.so only (dangling links)",
    target: 'llm-prompt-rtx4090',
    check: 'shared-libs',
    apply: (root) =>
      edit(
        root,
        'bake/dockerfiles/llama-rtx4090.Dockerfile',
        / && cp -P \/src\/llama\.cpp\/build\/bin\/llama-server \/opt\/llama\/ \\\n && find .*$/m,
        ' && cp -a /src/llama.cpp/build/bin/llama-server /src/llama.cpp/build/bin/*.so /opt/llama/',
      ),
    says: [/libllama\.so -> libllama\.so\.0: the link points at nothing|needs libllama\.so\.0/, /fix: llama\.cpp's libraries carry SONAME versions/],
  },
  {
    defect: 'a custom node whose code is in a git submodule, checked out without it',
    target: 'sdxl-rtx4090',
    check: 'custom-nodes',
    apply: (root) =>
      edit(root, 'bake/dockerfiles/node-comfyui-ultimatesdupscale-70083f5.Dockerfile', / \\\n && git -C \S+ submodule update --init --recursive/, ''),
    says: [/ComfyUI_UltimateSDUpscale: IMPORT FAILED: .*ultimate/, /fix: templates\/sdxl\/template\.ts: nodes\[0\]/],
  },
  {
    defect: "openssh-server's host keys left in the apt layer",
    target: 'sd15-basic-rtx4090',
    check: 'no-host-keys',
    apply: (root) => edit(root, 'bake/dockerfiles/base-rtx4090.Dockerfile', / \\\n && rm -f \/etc\/ssh\/ssh_host_\*/, ''),
    says: [/private SSH host keys are baked into the image/, /\/etc\/ssh\/ssh_host_\w+_key/],
  },
  {
    defect: 'a requirement conflict pip warns about and exits 0 on (ComfyUI-GGUF d2aaeb0 pins numpy<2.0.0)',
    target: 'flux1-dev-rtx5090',
    check: 'pip-check',
    apply: async (root) => {
      edit(root, 'templates/flux1-dev/template.ts', '795e45156ece99afbc3efef911e63fcb46e6a20d', 'd2aaeb0f138320cb2b1481d00c79ee63d7cfe81b');
      await regenerate(root);
    },
    says: [/opencv-python-headless \S+ has requirement numpy>=2(?:; [^,]+)?, but you have numpy 1\./, /fix: templates\/flux1-dev\/template\.ts/],
  },
  {
    defect: "a kernel compiled for an arch the GPU's profile does not name",
    target: 'wan-video-rtx5090',
    check: 'kernel-arch:sage',
    apply: (root) => edit(root, 'bake/dockerfiles/sage-rtx5090.Dockerfile', 'TORCH_CUDA_ARCH_LIST=12.0', 'TORCH_CUDA_ARCH_LIST=8.9'),
    says: [/holds sm_89; rtx5090 needs exactly sm_120/, /built by sage-rtx5090; fix: base\/rtx5090\.ts: sage\.torchCudaArchList/],
  },
];

for (const m of MUTATIONS) {
  etest(`check ${m.check} fails the build of ${m.target} on ${m.defect}, and passes without it`, async (t) => {
    const fixed = Testing.copyProject(REPO_ROOT);
    const broken = Testing.copyProject(REPO_ROOT);
    t.teardown(fixed.cleanup);
    t.teardown(broken.cleanup);
    await m.apply(broken.root);
    await engineLock(async () => {
      await prepareStubWorld();
      const bad = await build(broken.root, m.target);
      t.false(bad.ok, `the build of ${m.target} passed with the defect re-introduced`);
      const text = bad.errorText;
      t.regex(text, new RegExp(`kiln check FAILED: ${m.target}\\S*(?: \\(also [^)]*\\))?: ${m.check.replace(/[:]/g, '\\$&')}`), text);
      for (const re of m.says) t.regex(text, re, text);
      const quoted = text.split('\n').filter((l) => /kiln check FAILED|^\s+(fix: |built by |\S.*(IMPORT FAILED|holds sm_|points at nothing|has requirement|ssh_host))/.test(l));
      t.log(`${m.check} on ${m.target}:\n${[...new Set(quoted)].slice(0, 6).join('\n')}`);
      const good = await build(fixed.root, m.target);
      t.true(good.ok, `without the defect ${m.target} must build:\n${good.errorText}`);
    });
  });
}

const FLASH_WHEEL = {
  url: 'https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3/flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl',
  sha256: 'f25da18657a87fc83dc1bfb8b7751b82246e9db355510226b674fd437c34b5fb',
};

etest('a profile that takes FlashAttention as a prebuilt wheel builds without compiling it, and the wheel passes the kernel-arch check', async (t) => {
  const repo = Testing.copyProject(REPO_ROOT);
  t.teardown(repo.cleanup);
  edit(repo.root, 'base/rtx5090.ts', /flash: \{[^}]*\},/, `flash: { wheel: { url: '${FLASH_WHEEL.url}', sha256: '${FLASH_WHEEL.sha256}' } },`);
  await regenerate(repo.root);
  t.notRegex(readFileSync(join(repo.root, 'bake/docker-bake.hcl'), 'utf8'), /target "flash-rtx5090"/, 'no FlashAttention builder');
  await engineLock(async () => {
    await prepareStubWorld();
    const r = await build(repo.root, 'flux1-dev-rtx5090');
    t.true(r.ok, r.errorText);
    const image = `${REGISTRY}/kiln-checks/flux1-dev:rtx5090-checks`;
    const calls = await readShimLog(image);
    const dump = formatShimCalls(calls);
    t.false(calls.some((c) => c.tool === 'pip' && c.argv[0] === 'wheel' && c.cwd.includes('flash')), `no flash compile:\n${dump}`);
    t.true(calls.some((c) => c.tool === 'curl' && c.argv.includes(FLASH_WHEEL.url)), dump);
    t.true(calls.some((c) => c.tool === 'uv' && c.argv.some((a) => a.endsWith('flash_attn-2.8.3+cu12torch2.8cxx11abiTRUE-cp312-cp312-linux_x86_64.whl'))), dump);
    const report = JSON.parse(await readFileFromImage(image, '/opt/kiln/checks/report.json')) as { checks: { id: string; status: string }[] };
    t.deepEqual(report.checks.find((c) => c.id === 'kernel-arch:flash'), { id: 'kernel-arch:flash', status: 'passed' });
  });
});
