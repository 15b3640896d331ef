/** Child process for test/output.test.ts: writeGenerated(root, files) from a JSON file, so a test can SIGKILL it mid-write. */
import { readFileSync } from 'node:fs';
import { writeGenerated } from '../../src/io/output.ts';

const { root, files } = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { root: string; files: [string, string][] };
writeGenerated(root, new Map(files));
