// For plain `tsc` (the root project): .vue files are type-checked by vue-tsc (packages/web/tsconfig.json).
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
