export {
  zpub,
  zpub as default,
  type RoutePublishConfig,
  type ZpubDecorator,
  type ZpubPluginOptions,
} from './plugin.js';
export { zpubFrameworkErrors } from './framework-errors.js';
export {
  MAX_ENTRIES,
  MAX_FIELD_LENGTH,
  MAX_SECTION_LENGTH,
  REDACTED,
  REDACTED_HEADERS,
  REQUEST_DATA_SCHEMA,
  serializeRequestData,
  type HeaderSelection,
  type RequestEventDataWithExtra,
} from './request-event.js';
