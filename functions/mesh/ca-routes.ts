import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { CertificateAnswer, GroupParam, TokenGroupParam } from "../../schema/mesh-api";
import { ApiError } from "../lib/errors";
import { rateLimit } from "../lib/rate-limit";
import { type AppEnv, newRouter } from "../lib/hono";
import { errorText, log } from "../lib/log";
import { errorResponses, jsonContent } from "../lib/openapi";
import { enrol, notifyGroup } from "./ca-store";
import { meshSettings } from "./settings";

// The mesh certificate authority's public route. An Ifrit node with `ca_addr = host:port/mesh/<group>` posts its
// DER request to http://host:port/mesh/<group>/certificateRequest with Content-Type "text" (see docs/mesh.md).

export const meshCaRoutes = newRouter();

const CSR_BODY = {
  // Ifrit's bare "text" is accepted (only JSON and form types are refused) but is not a media type an OpenAPI
  // document can name: documented as text/plain.
  description: "A PKCS#10 certificate request: raw DER (Ifrit sends Content-Type: text, also accepted) or PEM",
  content: {
    "text/plain": { schema: { type: "string" as const, format: "binary" } },
    "application/pkcs10": { schema: { type: "string" as const, format: "binary" } },
    "application/x-pem-file": { schema: { type: "string" as const } },
  },
};

const REFUSED_TYPES = /^(application\/json|application\/x-www-form-urlencoded|multipart\/)/i;

async function certificateRequest(c: Context<AppEnv>, group: string, token: string | null) {
  const type = c.req.header("content-type") ?? "";
  if (REFUSED_TYPES.test(type))
    throw new ApiError("unsupported_media_type", "send the certificate request as DER or PEM (Content-Type text or application/pkcs10)");
  const settings = meshSettings(c.env);
  const caKey = await settings.caKey();
  const body = new Uint8Array(await c.req.arrayBuffer());
  const { db, clock } = c.var.services;
  const { answer, record } = await enrol(db, { group, body, token, caKey, ttlS: settings.certTtlS, now: clock.now() });
  try {
    await notifyGroup(c.env, group, record);
  } catch (e) {
    // The certificate is stored; a retry with the same request renews it and admits the member again.
    log.error("mesh.ca", "the group object refused admit", { group, id: record.id, error: errorText(e) });
    throw new ApiError("unavailable", "the group is not reachable right now: retry the same request");
  }
  c.header("Cache-Control", "no-store");
  return c.json(answer, 200);
}

meshCaRoutes.openapi(
  createRoute({
    method: "post",
    path: "/mesh/{group}/certificateRequest",
    tags: ["mesh"],
    summary: "Enrol or renew a mesh member (Ifrit's certificate authority)",
    description:
      "A new key gets a new member id (a closed group wants a Mesh-Enrolment-Token header); a key whose member holds an unexpired, unrevoked certificate gets a renewed certificate with the same id.",
    middleware: [rateLimit("certificate")] as const,
    request: { params: GroupParam, body: CSR_BODY },
    responses: {
      200: jsonContent(CertificateAnswer, "The member's certificate, the boot nodes' and the CA's"),
      ...errorResponses(400, 401, 403, 404, 409, 413, 429),
    },
  }),
  (c) => certificateRequest(c, c.req.valid("param").group, c.req.header("mesh-enrolment-token") ?? null),
);

meshCaRoutes.openapi(
  createRoute({
    method: "post",
    path: "/mesh/{group}/enrol/{token}/certificateRequest",
    tags: ["mesh"],
    summary: "Enrol into a closed group with the token in the path",
    description: "For Ifrit nodes, which cannot send headers: ca_addr = host:port/mesh/<group>/enrol/<token>.",
    middleware: [rateLimit("certificate")] as const,
    request: { params: TokenGroupParam, body: CSR_BODY },
    responses: { 200: jsonContent(CertificateAnswer, "As POST /mesh/{group}/certificateRequest"), ...errorResponses(400, 401, 403, 404, 409, 413, 429) },
  }),
  (c) => {
    const { group, token } = c.req.valid("param");
    return certificateRequest(c, group, token);
  },
);
