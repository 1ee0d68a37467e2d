import { createApp } from 'vue';
import App from './App.vue';
import { installDebugHook } from './debugHook.js';
import { locale, setLocale } from './i18n.js';
import { app } from './state/AppState.js';
import './style.css';
import './meeting.css';

setLocale(locale.value);
installDebugHook();
createApp(App).mount('#app');
// A device token kept from an earlier visit signs in again (page reload).
void app.resume();
