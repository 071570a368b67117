/**
 * Where the user made a request: an object whose `stack` (formatted lazily by V8, only if an
 * error needs it) starts at the user's frame, `above` and everything it called left out.
 * Cheaper than `new Error()`: the stack is captured once, and never formatted on success.
 */
export function callSite(above: Function): Error {
  const site = {} as Error;
  Error.captureStackTrace(site, above);
  return site;
}
