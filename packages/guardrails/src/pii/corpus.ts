/**
 * The labelled PII corpus: short English and Spanish texts, each entity marked inline as ⟦TYPE|value⟧, and
 * PII-free look-alikes (order numbers, versions, prices, dates, hashes) that must stay untouched. Built from
 * value lists × templates so every format meets every phrasing; `pii-corpus.test.ts` scores the recognisers on it.
 */

// biome-ignore format: value lists read better packed
const VALUES: Record<string, readonly string[]> = {
  EMAIL: ["ana.garcia@example.com", "j.smith+news@mail.co.uk", "soporte@tienda-online.es", "user_99@sub.domain.org",
    "MARIA.LOPEZ@Empresa.ES", "x@y.io", "first.last@university.edu", "dev-team@startup.dev"],
  PHONE: ["+1 (415) 555-2671", "+44 20 7946 0958", "+34 612 345 678", "+49 30 901820", "+33 1 42 68 53 00",
    "(212) 555-0199", "07911 123456", "91 123 45 67", "+52 55 1234 5678", "612345678"],
  CARD: ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117", "4012888888881881",
    "5105 1051 0510 5100", "3530111333300000", "2223003122003222"],
  IBAN: ["ES91 2100 0418 4502 0005 1332", "GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00",
    "FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300", "IT60X0542811101000000123456", "ES7921000813610123456789"],
  IP: ["192.168.1.24", "10.0.0.1", "8.8.8.8", "2001:db8::1", "fe80::1ff:fe23:4567:890a",
    "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "172.16.254.3"],
  URL_CREDENTIALS: ["https://admin:s3cret@db.example.com/path", "postgres://app:pa55w0rd@10.0.0.5:5432/prod",
    "ftp://user:hunter2@ftp.example.org", "redis://default:xyz123@cache.local:6379", "amqp://guest:guest@mq.internal/vhost"],
  US_SSN: ["078-05-1120", "219-09-9999", "536-22-1234", "123-45-6789", "401-32-7788"],
  ES_ID: ["12345678Z", "X1234567L", "Y2345678Z", "78901234X", "00000000T", "45678912 S"],
  UK_NINO: ["AB123456C", "JG 10 37 59 A", "CE123456A", "AB 12 34 56 D", "PR 44 55 66 B"],
  SECRET: ["sk-proj-AbC123dEf456GhI789jKl012MnO", "ghp_1234567890abcdefghijABCDEFGHIJ123456", "AKIAIOSFODNN7EXAMPLE",
    "xoxb-1234567890-abcdefghij", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "Zx8Qw2Lp9Rt4Yu7Io3Pa6Sd1Fg5Hj0Kl"],
};

// {v} is the entity. Each entity type has English and Spanish phrasings that give its context naturally.
// biome-ignore format: templates read better packed
const TEMPLATES: Record<string, readonly string[]> = {
  EMAIL: ["My email is {v}, please reply there.", "Contact {v} for the invoice.", "Escríbeme a {v} cuando puedas.",
    "Mi correo es {v}", "cc: {v}"],
  PHONE: ["Call me on {v} after 5pm.", "My phone number: {v}", "Llámame al {v} por la tarde.", "Mi móvil es {v}",
    "whatsapp {v} please"],
  CARD: ["My card number is {v}, expiry 12/27.", "Charge {v} for the order.", "Paga con la tarjeta {v} por favor.",
    "Tarjeta: {v}", "card={v}"],
  IBAN: ["Please transfer to {v} by Friday.", "IBAN: {v}", "Haz la transferencia a {v} antes del lunes.",
    "Mi cuenta es {v}", "refund to {v} thanks"],
  IP: ["The server at {v} is down.", "Login came from {v} yesterday.", "La IP {v} está bloqueada.",
    "Conéctate a {v} y reinicia", "allow {v} in the firewall"],
  URL_CREDENTIALS: ["Use {v} to connect.", "The connection string is {v}", "La cadena de conexión es {v}",
    "Prueba con {v} en staging"],
  US_SSN: ["My SSN is {v}.", "SSN: {v}, DOB on file.", "Mi número de seguro social es {v}", "social security {v}"],
  ES_ID: ["Mi DNI es {v}.", "NIE: {v}", "Con DNI {v} y fecha de hoy.", "My Spanish ID is {v}", "documento {v} adjunto"],
  UK_NINO: ["My National Insurance number is {v}.", "NINO: {v}", "Mi número NINO británico es {v}", "NI no. {v} attached"],
  SECRET: ["Here is my key {v} for the API.", "export API_KEY={v}", "La clave es {v}, no la compartas.",
    "token: {v}", "secret {v} leaked in the log"],
};

// biome-ignore format: one case per line reads better
const BIRTH_DATES: readonly string[] = [
  "I was born on ⟦DATE_OF_BIRTH|12/03/1985⟧.", "Date of birth: ⟦DATE_OF_BIRTH|1990-07-21⟧", "DOB ⟦DATE_OF_BIRTH|03.11.1978⟧",
  "born ⟦DATE_OF_BIRTH|March 3, 1979⟧ in Leeds", "My birthday is ⟦DATE_OF_BIRTH|14 February 1992⟧.",
  "Fecha de nacimiento: ⟦DATE_OF_BIRTH|5 de mayo de 1982⟧", "Nací el ⟦DATE_OF_BIRTH|14/02/1995⟧ en Sevilla.",
  "Mi cumpleaños es el ⟦DATE_OF_BIRTH|3 de junio de 1990⟧", "F. nac. ⟦DATE_OF_BIRTH|01/01/1970⟧",
  "nacida el ⟦DATE_OF_BIRTH|22-09-1988⟧", "The patient, born ⟦DATE_OF_BIRTH|1975-12-30⟧, called.",
  "date of birth is ⟦DATE_OF_BIRTH|Jan 5, 2001⟧", "Nacido el ⟦DATE_OF_BIRTH|7 de octubre de 1969⟧.",
  "birth date ⟦DATE_OF_BIRTH|30/04/1999⟧ as on the passport", "d.o.b. ⟦DATE_OF_BIRTH|11/11/1981⟧",
];

// Several entities in one text, and entities that touch each other's formats.
// biome-ignore format: one case per line reads better
const MIXED: readonly string[] = [
  "Hi, I'm at ⟦EMAIL|ana@example.com⟧ or ⟦PHONE|+34 612 345 678⟧; card ⟦CARD|4111 1111 1111 1111⟧.",
  "Soy Ana, DNI ⟦ES_ID|12345678Z⟧, IBAN ⟦IBAN|ES91 2100 0418 4502 0005 1332⟧, móvil ⟦PHONE|699 123 456⟧.",
  "Server ⟦IP|10.0.0.5⟧ uses ⟦URL_CREDENTIALS|postgres://app:pw@10.0.0.5/db⟧ and key ⟦SECRET|AKIAIOSFODNN7EXAMPLE⟧.",
  "SSN ⟦US_SSN|078-05-1120⟧, born ⟦DATE_OF_BIRTH|04/07/1976⟧, email ⟦EMAIL|bob@corp.com⟧.",
  "NINO ⟦UK_NINO|AB123456C⟧ and phone ⟦PHONE|+44 20 7946 0958⟧.",
  "Two cards: ⟦CARD|5500 0000 0000 0004⟧ and ⟦CARD|4012 8888 8888 1881⟧.",
  "Emails ⟦EMAIL|a.b@c.de⟧, ⟦EMAIL|x_y@z.com⟧ and ⟦EMAIL|ventas@empresa.es⟧.",
  "IPs ⟦IP|192.168.0.1⟧ / ⟦IP|::1⟧ / ⟦IP|2001:db8:0:1::42⟧",
  "Mi NIE es ⟦ES_ID|X1234567L⟧ y mi correo ⟦EMAIL|pepe@correo.es⟧",
  "ghp token ⟦SECRET|ghp_abcdefghijklmnopqrstuvwxyz0123456789⟧ in repo, slack ⟦SECRET|xoxp-2222-3333-abcdefghij⟧",
];

// PII-free texts that look like PII: nothing may be found in them.
// biome-ignore format: one case per line reads better
const LOOK_ALIKES: readonly string[] = [
  "Order #2024-118842 shipped today.", "Your order number is 2024118842.", "Invoice INV-2024-00123 is due.",
  "Ticket 123-45-678 was closed.", "SKU 100-200-300 is out of stock.", "Version 1.2.3 fixes the bug.",
  "Upgrade to v10.0.0.1 please.", "Build 2.14.0-rc.1 failed.", "node version 20.11.1", "Total $1,299.99 incl. VAT.",
  "Precio: 1.234,56 €", "El pedido cuesta 45,90 euros.", "Delivery date 12/03/2025.", "La entrega es el 05/06/2024.",
  "Meeting at 12:30:45 tomorrow.", "Ratio 3:2:1 works best.", "ISBN 978-3-16-148410-0", "Tracking 1Z999AA10123456784",
  "uuid 550e8400-e29b-41d4-a716-446655440000", "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
  "Order 4111111111111112 (not a card: checksum fails)", "Reference 12345678A for the parcel.", "Room 12345678 on floor 3.",
  "Product code AB123456 in the catalogue.", "Follow us @chatq_support on social media.", "The IP 999.1.1.1 is invalid.",
  "Connect to postgres://localhost:5432/db without a password.", "See https://example.com/docs/v2 for details.",
  "Pedido número 2024/118842 en camino.", "Factura 2024-0042 pagada el 1 de marzo de 2024.", "Score 10.5.3 in the league.",
  "The meeting is on March 3, 2025.", "Nos vemos el 3 de junio de 2025.", "Temperature 36.6 degrees today.",
  "Call the function with 3 args.", "Email me later, not now.", "My phone is broken, sorry.", "Tel Aviv is lovely.",
  "Use the key on the door.", "The secret is to add salt.", "Chapter 12.3.4 covers it.", "Coordinates 40.4168, -3.7038",
  "Year 2025 sales grew 12%.", "Código postal 28013 Madrid.", "ZIP code 94105.", "Flight IB3456 at 10:45.",
  "Lote ES-2024-7781 caducado.", "Model X200-1234-5678 in stock.", "Amount 0000 0000 0000 0000 cannot be charged.",
  "El DNI se pide en la entrada.", "NINO numbers are two letters, six digits and a letter.", "password reset link sent",
  "base64 of hello is aGVsbG8=", "Hash sha256:9f86d081884c7d659a2feaa0c55ad015", "Account 12345 in the ledger.",
  "Versión 3.4.5 disponible.", "Release 2024.12.01 notes.", "2 + 2 = 4 and 10 - 3 = 7", "Page 123 of 456.",
];

export interface LabelledText {
  text: string;
  entities: { entity: string; start: number; end: number }[];
}

const MARK = /⟦([A-Z_]+)\|([^⟧]+)⟧/g;

/** A marked text → the plain text and its labelled spans. */
export function parseMarked(marked: string): LabelledText {
  const entities: LabelledText["entities"] = [];
  let text = "";
  let at = 0;
  for (const m of marked.matchAll(MARK)) {
    text += marked.slice(at, m.index);
    const value = m[2] as string;
    entities.push({ entity: m[1] as string, start: text.length, end: text.length + value.length });
    text += value;
    at = m.index + m[0].length;
  }
  return { text: text + marked.slice(at), entities };
}

export function piiCorpus(): LabelledText[] {
  const marked: string[] = [];
  for (const [entity, values] of Object.entries(VALUES)) {
    const templates = TEMPLATES[entity] ?? [];
    for (const value of values) {
      for (const t of templates) marked.push(t.replace("{v}", `⟦${entity}|${value}⟧`));
    }
  }
  marked.push(...BIRTH_DATES, ...MIXED, ...LOOK_ALIKES);
  return marked.map(parseMarked);
}
