/**
 * The one push interface. Campaign dispatch talks only to PushProvider; two implementations sit behind it:
 * a gorush-compatible gateway and FCM HTTP v1 (which also carries iOS pushes for apps registered with Firebase).
 * Each provider maps its own wire answers onto PushResult, so dispatch decides retries, token expiry and logging
 * the same way for all of them. Direct APNs is not a provider: a Worker cannot speak HTTP/2 to Apple (docs/push.md).
 */
export type ProviderName = "gorush" | "fcm";

/** Who to wake: the probe, its platform (android, ios, ...) and its push device token. */
export type PushTarget = { probeId: string; platform: string; token: string };

/** What to say. Tasks are silent/data pushes; alerts carry a visible message. */
export type PushMessage = {
  kind: "task" | "alert";
  /** The task the probe should fetch, for task pushes. */
  taskId?: string;
  /** PUBLIC_BASE_URL + signed short-lived path; the probe GETs it to receive its task or alert. */
  pingbackUrl: string;
  /** Alert text (alerts only). */
  message?: string;
  /** Extra key/values delivered in the push's data (strings only: FCM data values must be strings). */
  data?: Record<string, string>;
  /**
   * The same for every copy of one push (a retry after a lost answer can deliver it twice). APNs shows copies with
   * one collapse id as one notification; FCM is not given it (see collapseId in payload.ts).
   */
  collapseId?: string;
};

export type PushResult =
  /** Accepted by the provider for delivery (FCM answered 200; gorush in sync mode reported no failure for it). */
  | { outcome: "sent"; provider: ProviderName; status: number; providerMessageId?: string }
  /**
   * Queued by a gateway that does not say what became of it (gorush without core.sync answers before it pushes).
   * The probe may have been woken; nothing is counted as delivered, and a dead token cannot be learnt this way.
   */
  | { outcome: "accepted"; provider: ProviderName; status: number; error: string }
  /** The provider says this token is dead (Unregistered, BadDeviceToken, ...): mark it expired, never retry. */
  | { outcome: "token-expired"; provider: ProviderName; status: number; error: string }
  /** Temporary (429, 5xx, timeout, network): retry later, no earlier than retryAfterMs when the provider said so. */
  | { outcome: "retry"; provider: ProviderName; status: number; error: string; retryAfterMs?: number }
  /** Permanent failure that is not about the token (bad payload, bad credentials): do not retry. */
  | { outcome: "rejected"; provider: ProviderName; status: number; error: string };

/**
 * How many requests a batch send keeps in flight (a Worker invocation has 6 simultaneous open connections), and a hook
 * asked before each request starts: false skips it (the scheduler's time budget; its lease is renewed there).
 */
export type SendManyOptions = { connections: number; beforeRequest?: () => boolean };

export interface PushProvider {
  readonly name: ProviderName;
  send(target: PushTarget, message: PushMessage): Promise<PushResult>;
  /** Many pushes, results in order; null for a push not attempted (beforeRequest said no). */
  sendMany(items: { target: PushTarget; message: PushMessage }[], o: SendManyOptions): Promise<(PushResult | null)[]>;
}
