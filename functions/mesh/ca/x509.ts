// tsyringe inside @peculiar/x509 needs the Reflect metadata API before the library's module body runs:
// this import must stay first. Everything in the CA takes the library from here.
import "reflect-metadata";

export * as x509 from "@peculiar/x509";
