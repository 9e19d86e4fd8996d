declare const __HB_VERSION__: string | undefined;

/** hb's version and build id, as the bundle was made (scripts/build.mjs). */
export const HB_VERSION = typeof __HB_VERSION__ === "string" ? __HB_VERSION__ : "dev";
