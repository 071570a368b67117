import { ENGINE_DEFAULTS } from '@river/engine';

/** Tags of the SFM messages between an initiator and its RAI VRs. */
export const RAI_TAG = 'trickle:rai';
/** Ends a session: the RAI VR returns from main and River ends its worker. */
export const RAI_END_TAG = 'trickle:end';
/**
 * Graceful removal. The RAI VR sends it when its VM is stopping (SIGTERM): the initiator sends no
 * new work and answers with the same tag; every request sent before that answer is still served,
 * then the VR ends (the initiator sees the session end, as `river:exit`).
 */
export const RAI_DRAIN_TAG = 'trickle:drain';
/** The name under which `trickle vm` registers the RAI VR class as a River extension. */
export const RAI_EXTENSION = 'trickle:rai';

/**
 * The largest encoded request or reply a session carries: what fits in one River frame (the
 * engine's default `maxFrameBytes`, 1 GiB) with room for the message and frame headers.
 */
export const RAI_MAX_MESSAGE_BYTES = ENGINE_DEFAULTS.maxFrameBytes - 64 * 1024;
