/** Why an AC upload is refused: the reason is a stable label (metrics), the message says what. */
export type AcEntryRefusalReason = "bad_ac_entry" | "ac_key_mismatch";

export class InvalidAcEntry extends Error {
  override readonly name = "InvalidAcEntry";

  constructor(
    readonly reason: AcEntryRefusalReason,
    message: string,
  ) {
    super(message);
  }
}
