import type { HandlerTable } from '../net/Handlers.js';
import type { ResultOf } from '../results.js';
import type { ImService } from './ImService.js';

/** The IM requests: users, contacts and contact requests, blocks, settings, conversations, messages (results as in docs/signaling-protocol.md). */
export function imHandlers(im: ImService): HandlerTable {
  return {
    'users.find': async (request): Promise<ResultOf<'users.find'>> => im.findUser(request.username),

    'users.get': async (request): Promise<ResultOf<'users.get'>> => im.users(request.userIds),

    'contacts.add': async (request, { link }): Promise<ResultOf<'contacts.add'>> => ({ status: (await im.requestContact(link.userId, request.userId, link)).status }),

    'contacts.list': async (_request, { link }): Promise<ResultOf<'contacts.list'>> => im.contacts(link.userId),

    'contacts.requests': async (_request, { link }): Promise<ResultOf<'contacts.requests'>> => im.contactRequests(link.userId),

    'contacts.accept': async (request, { link }): Promise<ResultOf<'contacts.accept'>> => im.acceptContact(link.userId, request.userId, link),

    'contacts.decline': async (request, { link }): Promise<ResultOf<'contacts.decline'>> => {
      await im.declineContact(link.userId, request.userId);
      return {};
    },

    'blocks.add': async (request, { link }): Promise<ResultOf<'blocks.add'>> => {
      await im.block(link.userId, request.userId);
      return {};
    },

    'blocks.remove': async (request, { link }): Promise<ResultOf<'blocks.remove'>> => {
      await im.unblock(link.userId, request.userId);
      return {};
    },

    'blocks.list': async (_request, { link }): Promise<ResultOf<'blocks.list'>> => im.blocked(link.userId),

    'settings.get': async (_request, { link }): Promise<ResultOf<'settings.get'>> => im.settings(link.userId),

    'settings.set': async (request, { link }): Promise<ResultOf<'settings.set'>> =>
      im.updateSettings(link.userId, request.callsFromNonContacts ? { callsFromNonContacts: request.callsFromNonContacts } : {}),

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
