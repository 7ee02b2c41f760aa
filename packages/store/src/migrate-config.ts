/** The migrate CLI's whole configuration, read from the environment here and nowhere else. */
export interface MigrateConfig {
  databaseUrl: string;
  schema?: string;
}

export function readMigrateConfig(env: NodeJS.ProcessEnv = process.env): MigrateConfig {
  const databaseUrl = env.DATABASE_URL;
  if (!databaseUrl)
    throw new Error("DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/chatq)");
  const schema = env.DATABASE_SCHEMA;
  return schema ? { databaseUrl, schema } : { databaseUrl };
}
