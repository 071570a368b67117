/**
 * The resource limits a deploy may ask for, checked before anything is started: a number outside
 * its range (a stack of 0.1 MiB makes the worker's bootstrap overflow and takes the whole process
 * with it; a heap of 10^12 MiB means no limit at all) is refused with a DeployError naming it.
 */
import { DeployError } from '../errors/deploy-error';
import type { ResourceLimits } from '../protocol';

/** The accepted range of each limit, in MiB (inclusive). */
export const RESOURCE_LIMIT_RANGES: Readonly<Record<keyof ResourceLimits, { min: number; max: number }>> = {
  maxOldGenerationSizeMb: { min: 8, max: 1_048_576 },
  maxYoungGenerationSizeMb: { min: 1, max: 1024 },
  codeRangeSizeMb: { min: 1, max: 1024 },
  stackSizeMb: { min: 1, max: 64 },
};

const names = Object.keys(RESOURCE_LIMIT_RANGES) as (keyof ResourceLimits)[];

/**
 * `value` as resource limits (a fresh object holding only the limits it sets), or undefined when
 * it sets none; throws DeployError for anything else: not an object, an unknown name, a value that
 * is not a finite number in its range.
 */
export function checkResourceLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new DeployError({ message: `resourceLimits must be an object, got ${Array.isArray(value) ? 'an array' : typeof value}` });
  }
  const limits: ResourceLimits = {};
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(RESOURCE_LIMIT_RANGES, key)) {
      throw new DeployError({ message: `unknown resource limit ${JSON.stringify(key.slice(0, 64))} (known: ${names.join(', ')})` });
    }
    const name = key as keyof ResourceLimits;
    const v = (value as Record<string, unknown>)[name];
    if (v === undefined) continue;
    const { min, max } = RESOURCE_LIMIT_RANGES[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      const shown = typeof v === 'number' ? String(v) : typeof v;
      throw new DeployError({ message: `resource limit ${name} must be a number of MiB from ${min} to ${max}, got ${shown}` });
    }
    limits[name] = v;
  }
  return Object.keys(limits).length > 0 ? limits : undefined;
}
