/**
 * A template's `env` (baked into the image as ENV lines) and `ports`: no
 * secrets by name or by value, and no two services on one port.
 */
import type { TemplateDefinition } from '../../dsl/types.ts';
import { secretName, tokenIn } from '../../facts/secrets.ts';
import { PORT_VARIABLES } from '../stages.ts';
import { shown, type Report } from './report.ts';

const SECRET_FIX = 'remove it from env: set it on the pod (RunPod secrets, `docker run -e`) instead; an empty value as a placeholder is allowed';

export function checkEnv(d: TemplateDefinition, report: Report): void {
  for (const [k, v] of Object.entries(d.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      report(`env.${k}`, 'is not a valid variable name', 'use letters, digits and _');
      continue;
    }
    if (typeof v !== 'string') {
      report(`env.${k}`, `must be a string, got ${shown(v)}`, `write ${k}: '${String(v)}'`);
      continue;
    }
    if (v === '') continue;
    const byName = secretName(k);
    const byValue = tokenIn(v);
    if (byName) report(`env.${k}`, `looks like a secret (${byName}); secrets are never baked into images`, SECRET_FIX);
    else if (byValue) report(`env.${k}`, `holds what looks like ${byValue}; secrets are never baked into images`, SECRET_FIX);
  }
}

type Service = { readonly service: string; readonly port: number; readonly via?: string };

/**
 * Ports of the services start.sh runs in this image: the defaults, moved by
 * their variables in `env`. llama-server counts when the image has it.
 */
function servicePorts(d: TemplateDefinition, report: Report): Service[] {
  const env = d.env ?? {};
  const out: Service[] = [];
  for (const [name, s] of Object.entries(PORT_VARIABLES)) {
    if (s.service === 'llama-server' && d.features?.llama !== true && env[name] === undefined) continue;
    const raw = env[name];
    if (raw === undefined || raw === '') {
      out.push({ service: s.service, port: s.port });
      continue;
    }
    const port = Number(raw);
    if (!/^\d+$/.test(String(raw)) || port < 1 || port > 65535) {
      report(`env.${name}`, `${shown(raw)} is not a port`, `use 1-65535, or leave it out (default ${s.port})`);
      continue;
    }
    out.push({ service: s.service, port, via: name });
  }
  return out;
}

export function checkPorts(d: TemplateDefinition, report: Report): void {
  const services = servicePorts(d, report);
  // Blame the variable that moved a service onto a port another one has.
  const owner = new Map<number, Service>();
  for (const s of [...services.filter((x) => !x.via), ...services.filter((x) => x.via)]) {
    const prev = owner.get(s.port);
    if (prev && s.via) {
      const defaultPort = PORT_VARIABLES[s.via as keyof typeof PORT_VARIABLES].port;
      report(
        `env.${s.via}`,
        `puts ${s.service} on ${s.port}, the port of ${prev.service}${prev.via ? ` (set by ${prev.via})` : ''}: both cannot listen there`,
        `pick a free port, e.g. ${defaultPort} (its default), or leave ${s.via} out`,
      );
    } else if (!prev) owner.set(s.port, s);
  }
  // Template ports are published next to the services; llama-server's own port is published this way.
  const always = services.filter((s) => s.service !== 'llama-server');
  const list = always.map((s) => `${s.port} ${s.service}`).join(', ');
  const seen = new Set<number>();
  for (const [i, p] of (d.ports ?? []).entries()) {
    if (p.port === undefined) continue; // reported as missing by the strict check
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) report(`ports[${i}].port`, `${shown(p.port)} is not a port`, 'use 1-65535');
    else if (seen.has(p.port)) report(`ports[${i}].port`, `${p.port} is listed twice`, 'list each port once');
    else {
      const taken = always.find((s) => s.port === p.port);
      if (taken) report(`ports[${i}].port`, `${p.port} is already used by ${taken.service} (services: ${list})`, 'pick a free port');
    }
    seen.add(p.port);
    if (p.protocol !== undefined && p.protocol !== 'http' && p.protocol !== 'tcp') report(`ports[${i}].protocol`, `${shown(p.protocol)} is not http or tcp`, "use protocol: 'http' (a web UI) or 'tcp'");
  }
}
