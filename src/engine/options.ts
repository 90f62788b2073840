// The Requests API's field options (CONTRACT §3 "Field options").

export const CATEGORIES = ['incident', 'rfc', 'rfi', 'reservation', 'order', 'fulfillment', 'complaint', 'compliment', 'other', 'case'] as const;
export const IMPACTS = ['low', 'medium', 'high', 'top'] as const;
export const STATUSES = [
  'declined', 'on_backlog', 'assigned', 'accepted', 'in_progress', 'waiting_for', 'waiting_for_customer',
  'reservation_pending', 'workflow_pending', 'project_pending', 'completed',
] as const;
export const COMPLETION_REASONS = ['solved', 'workaround', 'gone', 'duplicate', 'withdrawn', 'no_reply', 'rejected', 'conflict', 'declined', 'unsolvable'] as const;
export const STATUSES_REQUIRING_MEMBER: readonly string[] = [
  'accepted', 'in_progress', 'waiting_for', 'waiting_for_customer', 'reservation_pending', 'completed',
];

export type OptionField = 'category' | 'impact' | 'status' | 'completion_reason';
export const OPTIONS: Record<OptionField, readonly string[]> = {
  category: CATEGORIES, impact: IMPACTS, status: STATUSES, completion_reason: COMPLETION_REASONS,
};

/** `#rfc` → category rfc. Status comes before completion_reason, so `#declined` sets the status. */
export function shortcut(name: string): { field: OptionField; value: string } | null {
  for (const field of ['category', 'impact', 'status', 'completion_reason'] as const) {
    if (OPTIONS[field].includes(name)) return { field, value: name };
  }
  return null;
}
