import { expect, test } from "vitest";
import { cardValid, ibanValid, ninoValid, spanishIdValid, ssnValid } from "./validators.ts";

test("checksums and issuing rules", () => {
  expect(cardValid("4111 1111 1111 1111")).toBe(true);
  expect(cardValid("4111 1111 1111 1112")).toBe(false);
  expect(cardValid("0000 0000 0000 0000")).toBe(false);
  expect(ibanValid("ES91 2100 0418 4502 0005 1332")).toBe(true);
  expect(ibanValid("ES92 2100 0418 4502 0005 1332")).toBe(false);
  expect(spanishIdValid("12345678Z")).toBe(true);
  expect(spanishIdValid("12345678A")).toBe(false);
  expect(spanishIdValid("X1234567L")).toBe(true);
  expect(ssnValid("078-05-1120")).toBe(true);
  expect(ssnValid("666-05-1120")).toBe(false);
  expect(ssnValid("900-05-1120")).toBe(false);
  expect(ninoValid("AB123456C")).toBe(true);
  expect(ninoValid("GB123456C")).toBe(false);
});
