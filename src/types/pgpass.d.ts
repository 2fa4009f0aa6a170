// pgpass ships no types; this is the one function archon-sync calls.
declare module 'pgpass' {
  interface PgpassLookup {
    host: string;
    port: number | string;
    database: string;
    user: string;
  }
  function pgpass(lookup: PgpassLookup, callback: (password: string | undefined) => void): void;
  export = pgpass;
}
