import type { PublisherStats } from '@zpub/client';

/** What the soak driver sends its server process. */
export interface StatsRequest {
  kind: 'stats';
}

/** What the soak server process sends the driver. */
export type ServerMessage =
  | { kind: 'listening'; url: string; endpoint: string }
  | ({
      kind: 'stats';
      rssBytes: number;
      heapUsedBytes: number;
      /** `process.memoryUsage().external`, which includes `arrayBuffersBytes` */
      externalBytes: number;
      arrayBuffersBytes: number;
    } & PublisherStats);
