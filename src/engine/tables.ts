// The 17 Archon tables archon-sync copies by default, in a load order that puts parents first.

/** The default selection: the tables Archon's own sync script copies (its SYNC_TABLES). */
export const ARCHON_TABLES = [
  'archon_settings',
  'archon_migrations',
  'archon_prompts',
  'archon_llm_pricing',
  'archon_configured_repositories',
  'archon_agent_work_orders',
  'archon_agent_work_order_steps',
  'archon_projects',
  'archon_sources',
  'archon_project_sources',
  'archon_page_metadata',
  'archon_crawled_pages',
  'archon_code_examples',
  'archon_crawl_state',
  'archon_tasks',
  'archon_task_history',
  'archon_document_versions',
] as const;

export type ArchonTable = (typeof ARCHON_TABLES)[number];

export function isArchonTable(name: string): name is ArchonTable {
  return (ARCHON_TABLES as readonly string[]).includes(name);
}

export { HISTORY_TABLE } from '../pg/history-statements.js';
