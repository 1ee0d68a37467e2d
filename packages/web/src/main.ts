import { createApp } from 'vue';
import App from './App.vue';
import { installDebugHook } from './debugHook.js';
import { locale, setLocale } from './i18n.js';
import './style.css';

setLocale(locale.value);
installDebugHook();
createApp(App).mount('#app');
