import { z } from "@hono/zod-openapi";
import { OPERATOR_ROLES } from "./operators";

export const LoginBody = z
  .object({
    username: z
      .string()
      .trim()
      .min(1)
      .max(1024)
      .openapi({ description: "a probe's client_id (ours, or one OONI's backend issued: adopted on first login), or an operator's username" }),
    password: z.string().min(1).max(1024),
  })
  .openapi("LoginRequest");

export const LoginResponse = z.object({ token: z.string(), expire: z.string().openapi({ example: "2026-11-25T10:00:00Z" }) }).openapi("LoginResponse");

export const LogoutBody = z
  .object({ everywhere: z.boolean().optional().openapi({ description: "true: every token of this principal, not just this one" }) })
  .strict()
  .openapi("LogoutRequest");

export const LogoutResponse = z.object({ revoked: z.enum(["token", "everywhere"]) }).openapi("LogoutResponse");

export const OperatorUsername = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z0-9_.-]{2,63}$/, "must be 3-64 characters, starting with a letter, of a-z 0-9 _ . -")
  // A UUID is a probe's client_id at login (functions/ooni/adoption.ts), so it can never name an operator.
  .refine((u) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u), "must not look like a probe's client_id (a UUID)");

/** An operator's password, at creation and at every change or reset (one rule). */
export const OperatorPassword = z.string().min(12, "must be at least 12 characters").max(1024);

export const CreateOperatorBody = z
  .object({
    username: OperatorUsername,
    password: OperatorPassword,
    role: z.enum(OPERATOR_ROLES),
  })
  .openapi("CreateOperatorRequest");

export const ChangePasswordBody = z
  .object({
    current_password: z.string().min(1).max(1024),
    new_password: OperatorPassword,
  })
  .strict()
  .refine((b) => b.current_password !== b.new_password, { path: ["new_password"], message: "must differ from the current password" })
  .openapi("ChangePasswordRequest");

export const ResetPasswordBody = z.object({ new_password: OperatorPassword }).strict().openapi("ResetPasswordRequest");

export const PasswordChanged = z
  .object({
    username: z.string(),
    changed_at: z.string(),
    revoked: z.literal("everywhere").openapi({ description: "every token of the operator stopped working, this one included: log in again" }),
  })
  .openapi("PasswordChanged");

export const Operator = z
  .object({
    username: z.string(),
    role: z.enum(OPERATOR_ROLES),
    created_at: z.string(),
    created_by: z.string(),
    disabled_at: z.string().nullable(),
  })
  .openapi("Operator");

export const UsernameParam = z.object({
  username: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "username", in: "path" } }),
});
