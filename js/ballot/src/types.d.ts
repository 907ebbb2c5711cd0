/** A JSON value as mvote admits it (safe integers only; the encoder also takes bigints). */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };
