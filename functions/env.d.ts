// Secrets and optional settings that `wrangler types` cannot see (they come from `wrangler secret put` / .dev.vars).
declare namespace Cloudflare {
  interface Env {
    JWT_SECRET: string;
    ADMIN_PASSWORD: string;
  }
}

// Push delivery (all optional): a gorush gateway, or direct FCM HTTP v1 and APNs credentials.
declare namespace Cloudflare {
  interface Env {
    GORUSH_URL?: string;
    FCM_SERVICE_ACCOUNT?: string;
    APNS_KEY?: string;
    APNS_KEY_ID?: string;
    APNS_TEAM_ID?: string;
    APNS_TOPIC?: string;
  }
}

declare namespace Cloudflare {
  interface Env {
    GORUSH_AUTHORIZATION?: string;
    GORUSH_IOS_TOPIC?: string;
    GORUSH_ANDROID_CLICK_ACTION?: string;
    PUSH_MAX_ATTEMPTS?: string;
    PUSH_CONNECTIONS?: string;
    GORUSH_BATCH?: string;
    PUSH_BUDGET_IOS_PER_HOUR?: string;
    PUSH_BUDGET_ANDROID_PER_HOUR?: string;
  }
}

// Campaign fan-out and pingbacks (functions/campaigns/settings.ts); declared in wrangler.toml [vars].
declare namespace Cloudflare {
  interface Env {
    PINGBACK_TTL_S?: string;
    FANOUT_PAGE_SIZE?: string;
    FANOUT_CONCURRENCY?: string;
    SCHEDULER_SHARDS?: string;
    SCHEDULER_BATCH?: string;
  }
}

// School server (functions/school/): lease keys are secrets; LEASE_RSA_PRIVATE_KEY and LEASE_RETIRED_PUBLIC_KEYS are optional.
declare namespace Cloudflare {
  interface Env {
    LEASE_SIGNING_KEY?: string;
    LEASE_MASTER_PUBLIC_KEY?: string;
    LEASE_RSA_PRIVATE_KEY?: string;
    LEASE_RETIRED_PUBLIC_KEYS?: string;
  }
}

// Mesh certificate authority: the CA's ECDSA P-256 private key (PKCS#8 PEM or private JWK), a secret.
declare namespace Cloudflare {
  interface Env {
    MESH_CA_KEY?: string;
  }
}
