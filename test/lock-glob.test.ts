// Which files of a repo a whole-repo model takes: src/lock/glob.ts (kiln lock) and
// scripts/kiln_fetch/hfrepo.py (the fetcher's HF_MODELS repo form) must agree.
import test from 'ava';
import { execa } from 'execa';
import { selectPaths } from '../src/lock/glob.ts';
import { SCRIPTS } from './runtime/helpers/util.ts';

test('the fetcher and kiln lock select the same repo files (Python fnmatch and src/lock/glob.ts)', async (t) => {
  const paths = ['.gitattributes', 'README.md', 'a.safetensors', 'a-fp32.safetensors', 'vae/ae.safetensors', 'vae/.cache/x', 'te/config.json', 'te/model-00001-of-00002.safetensors', 'weird[1].bin', 'x?y.gguf', 'Q4_K_M.gguf', 'q4_k_m.gguf'];
  const cases: [string[], string[]][] = [
    [[], []],
    [['*.safetensors'], []],
    [['*.safetensors'], ['*fp32*']],
    [['vae/'], []],
    [['te/*'], ['*00002*']],
    [['*[0-9].bin', 'x?y.gguf'], []],
    [['*[!a-z].bin'], []],
    [['*Q4_K_M*'], []],
    [['[Qq]4_*'], ['te/']],
    [['weird[1].bin'], []],
    [['[]'], []],
  ];
  const py = await execa('python3', ['-c', `
import json, sys
sys.path.insert(0, ${JSON.stringify(SCRIPTS)})
from kiln_fetch.hfrepo import selected
paths, cases = json.loads(sys.stdin.read())
print(json.dumps([[p for p in paths if selected(p, tuple(i), tuple(e))] for i, e in cases]))
`], { input: JSON.stringify([paths, cases]) });
  const python = JSON.parse(py.stdout) as string[][];
  cases.forEach(([inc, exc], i) => t.deepEqual(selectPaths(paths, inc, exc), python[i], `include ${JSON.stringify(inc)} exclude ${JSON.stringify(exc)}`));
  // And what they select, by reasoning: hidden paths never; `*` crosses "/"; "vae/" is everything below vae/.
  t.deepEqual(selectPaths(paths, [], []), paths.filter((p) => !p.startsWith('.') && !p.includes('/.')));
  t.deepEqual(selectPaths(paths, ['*.safetensors'], ['*fp32*']), ['a.safetensors', 'vae/ae.safetensors', 'te/model-00001-of-00002.safetensors']);
  t.deepEqual(selectPaths(paths, ['vae/'], []), ['vae/ae.safetensors']);
  t.deepEqual(selectPaths(paths, ['[Qq]4_*'], []), ['Q4_K_M.gguf', 'q4_k_m.gguf']);
});
