/**
 * The deployment recipes in deploy/ (Dockerfile, Kubernetes manifests, Slurm script) are parsed,
 * and every `trickle` command line in them is checked against the CLI itself: `trickle vm` flags
 * through the VM's own strict argument parser, `trickle ping` flags against its flag list, env
 * names against `trickle --help`, and the names that tie the pieces together (Service, Secret,
 * ports) against each other. No container engine runs here, so the image is not built.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVmArgs, PING_FLAGS } from '@river/engine';
import { parseAllDocuments } from 'yaml';

const ROOT = join(__dirname, '..', '..', '..');
const DEPLOY = join(ROOT, 'deploy');
const TRICKLE_CLI = join(__dirname, '..', 'dist', 'cli.js');
/** What a heap-capped session process may hold beyond its heap (docs/security.md: "capped at N + 160 MiB"). */
const SESSION_OVERHEAD_MB = 160;
const trickleHelp = execFileSync(process.execPath, [TRICKLE_CLI, '--help'], { encoding: 'utf8' });

// ---- a small shell-words reader: quotes, $VAR, ${VAR} and $(( arithmetic )) with given values

function expand(text: string, env: Record<string, string | number>): string {
  return text
    .replace(/\$\(\(([^)]*(?:\([^)]*\)[^)]*)*)\)\)/g, (_, expr: string) => String(arithmetic(expr, env)))
    .replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name: string) => {
      if (!(name in env)) throw new Error(`the test has no value for $${name}`);
      return String(env[name]);
    });
}

function arithmetic(expr: string, env: Record<string, string | number>): number {
  const withValues = expr.replace(/[A-Za-z_][A-Za-z0-9_]*/g, (name) => {
    if (!(name in env)) throw new Error(`the test has no value for ${name}`);
    return String(Number(env[name]));
  });
  if (!/^[\d\s+\-*/()]+$/.test(withValues)) throw new Error(`not plain arithmetic: ${expr}`);
  // Shell arithmetic divides integers.
  return Math.trunc(Function(`"use strict"; return (${withValues.replace(/\/(?!\/)/g, '/')});`)() as number);
}

function shellWords(line: string, env: Record<string, string | number>): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|((?:[^\s"'$]|\$\(\([^]*?\)\)|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\$)+)/g;
  let current = '';
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) {
    if (line.slice(last, m.index).trim() === '' && m.index !== last && current !== '') {
      words.push(current);
      current = '';
    }
    current += m[1] !== undefined ? expand(m[1], env) : m[2] !== undefined ? m[2] : expand(m[3]!, env);
    last = re.lastIndex;
  }
  if (current !== '') words.push(current);
  return words;
}

function vmFlags(words: string[]): ReturnType<typeof parseVmArgs> {
  const at = words.indexOf('trickle');
  expect(at).toBeGreaterThanOrEqual(0);
  expect(words[at + 1]).toBe('vm');
  // The VM's own parser: strict, so a flag the CLI does not have throws here.
  return parseVmArgs(words.slice(at + 2));
}

function checkPing(command: string[], vmPort: number): void {
  expect(command.slice(0, 2)).toEqual(['trickle', 'ping']);
  const address = command[2]!;
  expect(address).toBe(`127.0.0.1:${vmPort}`);
  for (const word of command.slice(3)) {
    if (word.startsWith('--')) expect(PING_FLAGS).toContain(word.slice(2));
  }
}

/** TRICKLE_/RIVER_ names a recipe sets must be ones the CLI documents. */
function checkEnvNames(names: string[]): void {
  for (const name of names.filter((n) => /^(TRICKLE|RIVER)_/.test(n))) {
    const base = name.replace(/^(TRICKLE|RIVER)_/, '');
    expect(`${name}: ${trickleHelp.includes(`TRICKLE_${base}`) ? 'documented' : 'unknown'}`).toBe(`${name}: documented`);
  }
}

// -----------------------------------------------------------------------------------------------

test('Dockerfile: Node 20 slim, a non-root user, the key from a secret file, a trickle ping healthcheck, a valid trickle vm command', () => {
  const text = readFileSync(join(DEPLOY, 'docker', 'Dockerfile'), 'utf8');
  // Instructions, continuation lines joined, comments dropped.
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), arg: rest.join(' ') };
    });
  const all = (op: string) => instructions.filter((i) => i.op === op);
  const one = (op: string) => {
    const found = all(op);
    expect(found).toHaveLength(1);
    return found[0]!.arg;
  };
  const froms = all('FROM').map((f) => f.arg.split(' ')[0]);
  expect(froms.length).toBeGreaterThanOrEqual(1);
  for (const image of froms) expect(image).toBe('node:20-slim');

  const finalStage = instructions.slice(instructions.map((i) => i.op).lastIndexOf('FROM'));
  const user = finalStage.find((i) => i.op === 'USER')!.arg;
  expect(user).not.toMatch(/^(root|0)(:|$)/);
  const useradd = finalStage.find((i) => i.op === 'RUN' && i.arg.includes('useradd'))!.arg;
  expect(useradd).toContain(` ${user}`);
  const uid = /--uid (\d+)/.exec(useradd)![1]!;
  expect(Number(uid)).toBeGreaterThan(0);

  const env = Object.fromEntries(
    finalStage.filter((i) => i.op === 'ENV').flatMap((i) => [...i.arg.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
  );
  expect(env.TRICKLE_KEY_FILE).toMatch(/^\/run\/secrets\//);
  checkEnvNames(Object.keys(env));
  // The header tells how to mount the key there, owned by the image's user.
  expect(text).toContain(`dst=${env.TRICKLE_KEY_FILE}`);
  expect(text).toContain(`-o ${uid}`);

  expect(JSON.parse(one('ENTRYPOINT'))).toEqual(['trickle']);
  const cmd = JSON.parse(one('CMD')) as string[];
  const vm = vmFlags(['trickle', ...cmd]);
  if (vm === 'help') throw new Error('CMD asks for help');
  const exposed = one('EXPOSE').split(' ').map(Number);
  expect(exposed).toContain(vm.port);
  expect(exposed).toContain(vm.metricsPort);

  const health = one('HEALTHCHECK');
  const healthCmd = JSON.parse(health.slice(health.indexOf('CMD ') + 4)) as string[];
  checkPing(healthCmd, vm.port!);

  // The build stage deploys the package whose bin the image links as `trickle`.
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { name: string; bin: { trickle: string } };
  expect(text).toContain(`--filter ${pkg.name} deploy`);
  expect(text).toContain(`/opt/trickle/${pkg.bin.trickle.replace(/^\.\//, '')} /usr/local/bin/trickle`);
});

test('Kubernetes: a headless Service, a StatefulSet joining it by DNS name, the key as a Secret, limits mapped to --slots and --max-vr-heap-mb, readiness by trickle ping', () => {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', 'trickle-vms.yaml'), 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as any;
  });
  const service = docs.find((d) => d.kind === 'Service');
  const set = docs.find((d) => d.kind === 'StatefulSet');
  expect(service.spec.clusterIP).toBe('None');
  expect(service.spec.publishNotReadyAddresses).toBe(true);
  expect(set.spec.serviceName).toBe(service.metadata.name);
  const pod = set.spec.template;
  for (const [k, v] of Object.entries(service.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
  for (const [k, v] of Object.entries(set.spec.selector.matchLabels)) expect(pod.metadata.labels[k]).toBe(v);
  expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
  expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0);

  const [container] = pod.spec.containers;
  const envDefs = container.env as Array<{ name: string; value?: string; valueFrom?: any }>;
  checkEnvNames(envDefs.map((e) => e.name));
  const key = envDefs.find((e) => e.name === 'TRICKLE_KEY')!;
  expect(key.valueFrom.secretKeyRef).toEqual({ name: 'river-key', key: 'key' });
  expect(readFileSync(join(DEPLOY, 'kubernetes', 'trickle-vms.yaml'), 'utf8')).toContain(
    `kubectl create secret generic ${key.valueFrom.secretKeyRef.name} --from-file=${key.valueFrom.secretKeyRef.key}=`,
  );

  // The values Kubernetes gives the env (downward API) for this pod's limits.
  const limits = container.resources.limits;
  const cpu = Math.ceil(Number(limits.cpu));
  const memoryMb = Number(/^(\d+)Gi$/.exec(limits.memory)![1]) * 1024;
  const fieldOf = (name: string) => envDefs.find((e) => e.name === name)!.valueFrom.resourceFieldRef;
  expect(fieldOf('CPU_LIMIT')).toMatchObject({ resource: 'limits.cpu', divisor: '1', containerName: container.name });
  expect(fieldOf('MEMORY_LIMIT_MB')).toMatchObject({ resource: 'limits.memory', divisor: '1Mi', containerName: container.name });
  const env = { POD_NAME: `${set.metadata.name}-0`, POD_NAMESPACE: 'default', CPU_LIMIT: cpu, MEMORY_LIMIT_MB: memoryMb };

  expect(container.command).toEqual(['sh', '-c']);
  const script = container.args[0] as string;
  execFileSync('sh', ['-n', '-c', script]); // the shell reads it
  const vm = vmFlags(shellWords(script, env));
  if (vm === 'help') throw new Error('asks for help');
  expect(vm.slots).toBe(cpu);
  expect(vm.maxVRHeapMb).toBe(Math.trunc((memoryMb - 256) / cpu) - 160);
  // Every session at its cap (a heap-capped session is a child process of at most heap + 160 MiB
  // resident, see docs/security.md) and the VM itself fit in the container's memory limit.
  expect((vm.maxVRHeapMb! + SESSION_OVERHEAD_MB) * vm.slots! + 256).toBeLessThanOrEqual(memoryMb);
  expect(vm.join).toBe(`${service.metadata.name}.default.svc.cluster.local:${service.spec.ports[0].port}`);
  expect(vm.name).toBe(env.POD_NAME);
  expect(vm.advertise).toBe(false);

  const ports = Object.fromEntries((container.ports as Array<{ name: string; containerPort: number }>).map((p) => [p.name, p.containerPort]));
  expect(vm.port).toBe(ports.river);
  expect(service.spec.ports[0]).toMatchObject({ name: 'river', targetPort: 'river', port: vm.port });
  expect(vm.metricsPort).toBe(ports.metrics);
  expect(Number(pod.metadata.annotations['prometheus.io/port'])).toBe(vm.metricsPort);
  expect(vm.metricsHost).toBe('0.0.0.0');

  checkPing(container.readinessProbe.exec.command, vm.port!);
  checkPing(container.livenessProbe.exec.command, vm.port!);
  // The grace Kubernetes gives a stopping pod covers the VM's own stop grace.
  expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(vm.stopGraceMs!);

  // The initiator Job: the same Secret, peers through the same Service name.
  const [job] = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', 'initiator-job.yaml'), 'utf8')).map((d) => d.toJS() as any);
  const jobContainer = job.spec.template.spec.containers[0];
  const jobEnv = jobContainer.env as Array<{ name: string; value?: string; valueFrom?: any }>;
  checkEnvNames(jobEnv.map((e) => e.name));
  expect(jobEnv.find((e) => e.name === 'TRICKLE_KEY')!.valueFrom.secretKeyRef).toEqual(key.valueFrom.secretKeyRef);
  expect(jobEnv.find((e) => e.name === 'TRICKLE_PEERS')!.value).toBe(`${service.metadata.name}.$(POD_NAMESPACE).svc.cluster.local:${vm.port}`);
  expect(jobContainer.args[0]).toBe('run');
  expect(trickleHelp).toMatch(/^\s+run SCRIPT/m);
});

test('Slurm: one trickle vm per node through srun, joining the first node, then the initiator', () => {
  const path = join(DEPLOY, 'slurm', 'trickle.sbatch');
  const text = readFileSync(path, 'utf8');
  execFileSync('bash', ['-n', path]); // bash reads it
  const directives = Object.fromEntries([...text.matchAll(/^#SBATCH --([a-z-]+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
  expect(directives['ntasks-per-node']).toBe('1');
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  const srun = lines.find((l) => /^\s*srun\b/.test(l))!;
  expect(srun).toMatch(/--ntasks-per-node=1/);
  const env = {
    PORT: 7100,
    SEED: 'node001',
    SLOTS: Number(directives['cpus-per-task']),
    SLURM_JOB_NUM_NODES: Number(directives.nodes),
    HEAP_MB: 0,
  };
  const heapLine = lines.find((l) => l.startsWith('HEAP_MB='))!;
  env.HEAP_MB = Number(expand(heapLine.slice('HEAP_MB='.length), { SLOTS: env.SLOTS, SLURM_MEM_PER_CPU: 1024 }));
  expect(env.HEAP_MB).toBe(Math.trunc((1024 * env.SLOTS - 256) / env.SLOTS) - 160);
  expect((env.HEAP_MB + SESSION_OVERHEAD_MB) * env.SLOTS + 256).toBeLessThanOrEqual(1024 * env.SLOTS);
  const vm = vmFlags(shellWords(srun.replace(/&\s*$/, ''), env));
  if (vm === 'help') throw new Error('asks for help');
  expect(vm.join).toBe('node001:7100');
  expect(vm.port).toBe(7100);
  expect(vm.slots).toBe(env.SLOTS);
  expect(vm.maxVRHeapMb).toBe(env.HEAP_MB);

  for (const line of lines.filter((l) => /^\s*trickle ping /.test(l) || /&& break$/.test(l))) {
    const words = shellWords(line.replace(/&& break\s*$/, '').trim(), env);
    expect(words.slice(0, 2)).toEqual(['trickle', 'ping']);
    expect(words[2]).toBe('node001:7100');
    for (const w of words.slice(3)) if (w.startsWith('--')) expect(PING_FLAGS).toContain(w.slice(2));
  }
  checkEnvNames([...text.matchAll(/export ((?:TRICKLE|RIVER)_[A-Z_]+)=/g)].map((m) => m[1]!));
  expect(lines.some((l) => /^trickle run "\$PROGRAM"/.test(l))).toBe(true);
});
