/** Why a certificate request was refused. The route turns it into a 400 `{error, code}`; `reason` is for tests and logs. */
export type CsrRejection =
  | "not_der"
  | "not_a_csr"
  | "bad_signature"
  | "unsupported_key"
  | "missing_localities"
  | "too_many_localities"
  | "bad_address"
  | "bad_dns_name"
  | "subject_too_large";

export class CsrError extends Error {
  constructor(
    readonly reason: CsrRejection,
    message: string,
  ) {
    super(message);
    this.name = "CsrError";
  }
}
