/** The verification service (`capframe serve`). */
export { createVerifyService, checkBearer, type VerifyService, type VerifyServiceOptions, type EventSink, type RouteHandler, type RevokeFn } from './service.ts';
export { parseServerConfig, loadServerConfig, serverSectionSchema, DEFAULT_ADMIN_SECRET_ENV, type ServerConfig, type ServerSection } from '../config/server.ts';
export { startService, type RunningService, type StartOverrides } from './start.ts';
export { Metrics } from './metrics.ts';
export { verifyRequestSchema, decisionToJson, decisionResponseSchema, type VerifyRequest } from '../remote/wire.ts';
export { RemoteVerifier, remoteVerifierFromConfig, type RemoteVerifierOptions } from '../remote/client.ts';
export { remoteConfigSchema, type RemoteConfig } from '../config/remote.ts';
