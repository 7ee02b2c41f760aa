import { isIP } from "node:net";
import { isValidIBAN } from "ibantools";

/** The Luhn checksum every payment card number carries. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** A card: 13-19 digits, an issuer's leading digit (Visa 4, Mastercard 2/5, Amex/Diners 3, Discover/UnionPay 6), Luhn. */
export function cardValid(raw: string): boolean {
  const digits = raw.replace(/[ -]/g, "");
  if (digits.length < 13 || digits.length > 19) return false;
  if (!/^[23456]/.test(digits)) return false;
  // Same digit all through passes Luhn for some lengths and is never a real card.
  if (/^(\d)\1+$/.test(digits)) return false;
  return luhnValid(digits);
}

/** ISO 13616: country length and mod-97, by ibantools. */
export function ibanValid(raw: string): boolean {
  return isValidIBAN(raw.replace(/ /g, "").toUpperCase());
}

const DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";

/** A Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): the letter is the number mod 23. */
export function spanishIdValid(raw: string): boolean {
  const s = raw.replace(/[ -]/g, "").toUpperCase();
  const nie = /^([XYZ])(\d{7})([A-Z])$/.exec(s);
  const dni = /^(\d{8})([A-Z])$/.exec(s);
  const parts = nie
    ? [`${"XYZ".indexOf(nie[1] as string)}${nie[2]}`, nie[3]]
    : dni
      ? [dni[1], dni[2]]
      : undefined;
  if (!parts) return false;
  const [number, letter] = parts as [string, string];
  return DNI_LETTERS[Number(number) % 23] === letter;
}

/** A US SSN: no area 000, 666 or 900-999, no group 00, no serial 0000 (the SSA never issues those). */
export function ssnValid(raw: string): boolean {
  const m = /^(\d{3})[- ]?(\d{2})[- ]?(\d{4})$/.exec(raw);
  if (!m) return false;
  const [, area, group, serial] = m as unknown as [string, string, string, string];
  if (area === "000" || area === "666" || area.startsWith("9")) return false;
  return group !== "00" && serial !== "0000";
}

/** A UK National Insurance number: HMRC never issues the prefixes BG, GB, KN, NK, NT, TN, ZZ. */
export function ninoValid(raw: string): boolean {
  const s = raw.replace(/ /g, "").toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(s)) return false;
  return !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].includes(s.slice(0, 2));
}

export function ipValid(raw: string): boolean {
  return isIP(raw) !== 0;
}

/** Shannon entropy in bits per character: random keys sit near log2 of their alphabet, words far below. */
export function entropyBits(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}
