import type { HandlerTable } from '../net/Handlers.js';
import type { ResultOf } from '../results.js';
import type { ImService } from './ImService.js';

/** The IM requests: users, contacts, conversations, messages (results as in docs/signaling-protocol.md). */
export function imHandlers(im: ImService): HandlerTable {
  return {
    'users.find': async (request): Promise<ResultOf<'users.find'>> => im.findUser(request.username),

    'users.get': async (request): Promise<ResultOf<'users.get'>> => im.users(request.userIds),

    'contacts.add': async (request, { link }): Promise<ResultOf<'contacts.add'>> => {
      await im.addContact(link.userId, request.userId);
      return {};
    },

    'contacts.list': async (_request, { link }): Promise<ResultOf<'contacts.list'>> => im.contacts(link.userId),

    'conversations.direct': async (request, { link }): Promise<ResultOf<'conversations.direct'>> =>
      (await im.directConversation(link.userId, request.userId, link)).conversation,

    'conversations.createGroup': async (request, { link }): Promise<ResultOf<'conversations.createGroup'>> =>
      im.createGroup(link.userId, request.name, request.memberIds, link),

    'conversations.list': async (_request, { link }): Promise<ResultOf<'conversations.list'>> => im.conversations(link.userId),

    'messages.send': async (request, { link }): Promise<ResultOf<'messages.send'>> => im.sendMessage(link.userId, request.conversationId, request.text, link),

    'messages.history': async (request, { link }): Promise<ResultOf<'messages.history'>> =>
      im.history(link.userId, request.conversationId, request.beforeSeq, request.limit),
  };
}
