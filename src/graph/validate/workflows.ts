/**
 * A template's workflows/*.json land in ComfyUI's user workflows, which the
 * workflow browser lists and opens: they must be UI-format workflows (read by
 * src/dsl/workflows.ts). API-format files are refused rather than shipped as
 * entries the browser cannot open.
 */
import type { TemplateSource } from '../../dsl/load.ts';
import type { DefinitionProblem } from '../../errors.ts';
import { label, reporter } from './report.ts';

const RESAVE = 'open it in ComfyUI and save it again (Workflow > Save, or Export; not Export (API)), then replace this file';

export function checkWorkflows(t: TemplateSource, out: DefinitionProblem[]): void {
  for (const w of t.workflows) {
    const report = reporter(out, `templates/${t.folder}/workflows/${w.path}`, label('template', t.def));
    const { format, issues } = w.workflow;
    if (format === 'api') {
      report(
        '(format)',
        'is in API format (node ids -> { class_type, inputs }, what Export (API) writes for POST /prompt); the workflow browser opens only UI-format workflows ({ nodes, links, ... })',
        "drag it onto ComfyUI's canvas (that loads API format), save it with Workflow > Save or Export (not Export (API)), and replace this file with the result",
      );
      continue;
    }
    for (const i of issues) {
      report(i.where, i.problem, i.where === '(JSON)' ? `correct the JSON syntax there, or ${RESAVE}` : RESAVE);
    }
  }
}
