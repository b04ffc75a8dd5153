// The app: Vue, the router, Element Plus's zh-cn locale (its components are imported on demand).
import { createApp } from 'vue'
import 'element-plus/es/components/message/style/css'
import App from './App.vue'
import { router } from './router'
import './styles.css'

createApp(App).use(router).mount('#app')
