/**
 * What the certificate authority hands the group Durable Object (MeshGroup) when it admits a member,
 * through the RPC `admit(member: MeshMemberRecord)`; `revoke(id)` removes one. This file is the
 * contract between the CA half (functions/mesh/ca*) and the membership half (durable-objects/mesh-group.ts).
 */
export type MeshNamedCurve = "P-256" | "P-384" | "P-521";

export type MeshMemberRecord = {
  /** Lowercase hex of the certificate's 32-byte SubjectKeyId: the member id, unique in the group. */
  id: string;
  /** The issued certificate, DER, standard base64. */
  certDer: string;
  /** The member's SubjectPublicKeyInfo, DER, standard base64 (importKey("spki", ...) with ECDSA namedCurve). */
  spkiDer: string;
  namedCurve: MeshNamedCurve;
  /** Locality[0] of the request: gRPC address "host:port". */
  rpcAddr: string;
  /** Locality[1]: UDP ping address "host:port". */
  pingAddr: string;
  /** Locality[2] when present. */
  httpAddr: string | null;
  /** RFC 3339 UTC. */
  notAfter: string;
  /** Certificate serial, lowercase hex. */
  serial: string;
  /** True for the group's first BOOT_NODES members (their certificates are the KnownCerts). */
  trusted: boolean;
};
