export {
  zpub,
  zpub as default,
  type RoutePublishConfig,
  type ZpubDecorator,
  type ZpubPluginOptions,
} from './plugin.js';
export {
  MAX_ENTRIES,
  MAX_FIELD_LENGTH,
  MAX_SECTION_LENGTH,
  REDACTED,
  REDACTED_HEADERS,
  type HeaderSelection,
} from './request-event.js';
