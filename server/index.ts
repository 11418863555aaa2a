/**
 * Shared HTTP server plumbing for Rok's fastify services (the node's local API and the
 * registry): strict validation with readable errors and `{code, message}` answers, the
 * OpenAPI document from the route schemas, Prometheus metrics, request loggers made on
 * first use, and listen/graceful close.
 * Each service passes in what differs (its error statuses, its title, its gauges).
 */
export { errorsPlugin, type ErrorsPluginOptions } from './errors-plugin.ts'
export { docsPlugin, type DocsPluginOptions } from './docs-plugin.ts'
export { metricsPlugin, type MetricsPluginOptions } from './metrics-plugin.ts'
export { lazyChildLogger } from './request-logger.ts'
export { listenGracefully, parseListen, type Listening } from './listen.ts'
