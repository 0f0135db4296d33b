// Types of the aep-edge Node.js binding (index.js).
export type Json = Record<string, unknown>;

export declare const Status: Readonly<{
  OK: 0; NULL_ARGUMENT: 1; INVALID_UTF8: 2; INVALID_JSON: 3; INVALID_CONFIG: 4;
  INVALID_REQUEST: 5; TRANSPORT_ERROR: 6; TIMEOUT: 7; HTTP_ERROR: 8; AUTH_ERROR: 9;
  INVALID_RESPONSE: 10; QUEUE_FULL: 11; CLOSED: 12; STORAGE_ERROR: 13;
  CONSENT_DENIED: 14; NOT_READY: 15; PANIC: 99;
}>;

export declare class EdgeError extends Error {
  readonly status: number;
  readonly kind: string;
  readonly httpStatus: number | null;
  readonly code: string | null;
  readonly problem: Json | null;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;
  readonly requestId: string | null;
  readonly attempts: number;
}

export interface CloseReport { inFlight: number; waitedMs: number; timedOut: boolean }

export declare class Client {
  constructor(config: Json | string);
  interact(request: Json | string): Promise<Json>;
  collect(request: Json | string): Promise<Json>;
  setConsent(request: Json | string): Promise<Json>;
  interactSync(request: Json | string): Json;
  collectSync(request: Json | string): Json;
  setConsentSync(request: Json | string): Json;
  session(): Json;
  resetSession(): void;
  setAccessToken(token: string): void;
  close(timeoutMs?: number): Promise<CloseReport>;
  readonly closed: boolean;
}

export declare function version(): string;
export declare function abiVersion(): number;
