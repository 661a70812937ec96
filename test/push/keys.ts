import { exportPKCS8, exportSPKI, generateKeyPair } from "jose";

/** Throwaway credentials shaped like the real ones: a service-account key file and an APNs .p8 key. */
export async function testServiceAccount(tokenUri = "https://oauth2.test/token") {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const account = {
    type: "service_account",
    project_id: "edge-orchestra-test",
    private_key_id: "kid-123",
    private_key: await exportPKCS8(privateKey),
    client_email: "push@edge-orchestra-test.iam.gserviceaccount.com",
    token_uri: tokenUri,
  };
  return { account, json: JSON.stringify(account), publicKey, publicPem: await exportSPKI(publicKey) };
}

export async function testApnsKey() {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  return { key: await exportPKCS8(privateKey), keyId: "ABC123DEFG", teamId: "TEAM123456", publicKey };
}
