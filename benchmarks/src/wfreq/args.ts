// A tiny argv parser for the benchmark CLIs: `--flag`, `--key value`, `--key=value`. A bare
// `--` (as pnpm may forward it) is ignored.

export interface ParsedArgs {
  flags: Map<string, string | true>;
  positional: string[];
}

export function parseArgs(argv: readonly string[], valued: readonly string[]): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (eq > 0) flags.set(key, arg.slice(eq + 1));
    else if (valued.includes(key)) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new Error(`--${key} needs a value`);
      flags.set(key, value);
      i++;
    } else flags.set(key, true);
  }
  return { flags, positional };
}

export function checkKnown(args: ParsedArgs, known: readonly string[]): void {
  for (const key of args.flags.keys()) {
    if (!known.includes(key)) throw new Error(`unknown option --${key} (known: ${known.map((k) => `--${k}`).join(' ')})`);
  }
}

export function stringFlag(args: ParsedArgs, key: string): string | undefined {
  const v = args.flags.get(key);
  if (v === true) throw new Error(`--${key} needs a value`);
  return v;
}

export function numberFlag(args: ParsedArgs, key: string, check: (n: number) => boolean = Number.isFinite): number | undefined {
  const v = stringFlag(args, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!check(n)) throw new Error(`--${key}: invalid value ${JSON.stringify(v)}`);
  return n;
}

export function listFlag(args: ParsedArgs, key: string): string[] | undefined {
  const v = stringFlag(args, key);
  return v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean);
}
