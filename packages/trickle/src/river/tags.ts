/** Tags of the SFM messages between an initiator and its RAI VRs. */
export const RAI_TAG = 'trickle:rai';
/** Ends a session: the RAI VR returns from main and River ends its worker. */
export const RAI_END_TAG = 'trickle:end';
/** The name under which `trickle vm` registers the RAI VR class as a River extension. */
export const RAI_EXTENSION = 'trickle:rai';
