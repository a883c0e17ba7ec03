/**
 * pino JSON logs with ECS field names (`@timestamp`, `log.level`, `message`, `error.code`).
 * Raw input events are never logged: callers log counts, subjects and codes only.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      messageKey: 'message',
      errorKey: 'error',
      base: { 'service.name': 'sentinel', 'process.pid': process.pid },
      timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ 'log.level': label }) },
    },
    destination ?? pino.destination({ dest: 2, sync: true }),
  );
}
