/**
 * The auxiliary metadata naming hb's signed entry (a CAS blob) in an ActionResult: hb's client
 * writes it, and hb's server checks the entry it names on instances with trusted keys.
 */
export const HB_ENTRY_TYPE_URL = "type.googleapis.com/hb.AcEntryDigest.v1";
